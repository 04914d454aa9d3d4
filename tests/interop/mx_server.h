// The part PostfixMx, EximMx and OpenSmtpdMx share: a private directory, the server process in a
// session of its own, the bounded wait for its port, and counting delivered files in its
// maildir (the far side). Owned by one test thread.
// Invariant: once start() has returned an object, its destructor leaves nothing behind: every
// process of the server's process group is gone before the directory is removed (the
// directory is kept, path printed, when the test failed, as tests/integration's TempDir does).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/temp_dir.h"
#include "tests/support/child_process.h"
#include "tests/interop/mx_options.h"

namespace ringpost::interop {

class MxServer {
 public:
  MxServer(const MxServer&) = delete;
  MxServer& operator=(const MxServer&) = delete;
  virtual ~MxServer();

  // "postfix", "exim" or "opensmtpd".
  const std::string& kind() const { return kind_; }
  const std::string& host() const { return options_.ip; }
  uint16_t port() const { return options_.port; }
  // "127.0.0.2:40123": what a ringpost route names.
  std::string endpoint() const;
  // "mx.<first domain>": the name in the banner, the EHLO reply and the Received header.
  std::string hostname() const { return "mx." + options_.domains.front(); }
  const std::vector<std::string>& domains() const { return options_.domains; }
  bool tls_enabled() const { return options_.tls.has_value(); }
  // The resolved options (ip, port and domains filled in).
  const MxOptions& options() const { return options_; }
  // The server's private directory (configs, spool, logs, maildir).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The maildir every accepted recipient is delivered into (new/ holds the files).
  std::filesystem::path maildir() const { return dir() / "mail" / "inbox"; }

  // Delivered copies on disk (one file per recipient), counted in maildir new/ and cur/.
  int delivered_count() const;
  // The delivered copies, oldest first.
  std::vector<ReceivedMessage> received_messages() const;
  // Delivery happens after the server's 250, in another process: poll (bounded) until at least
  // `n` copies are on disk. Returns false on timeout; delivered_count() tells how many came.
  bool wait_for_delivered(int n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // The server's own log (config errors, per-message delivery lines), for failure messages.
  virtual std::string log() const = 0;
  // kind, endpoint, directory, delivered count and the log's tail.
  std::string describe() const;

  // Stops every process of the server and reaps the leader. Idempotent; the destructor calls it.
  void stop();
  bool running();
  // The server's process group (== the leader's pid), -1 once stopped.
  pid_t process_group() const { return process_ ? process_->process_group() : -1; }

 protected:
  // Fills in the defaults (domain, ip, a free port) and validates them; each start() calls it
  // before constructing.
  static tl::expected<MxOptions, std::string> resolve(MxOptions options, std::string default_domain,
                                                      std::string default_ip);
  // `options` as returned by resolve(). Creates the private directory.
  MxServer(std::string kind, MxOptions options);

  // Spawns argv (no PATH search) as the leader of a new session, so the whole server (daemon
  // children, delivery agents) can be signalled as one process group, with its output in
  // dir()/<kind>.out; then waits until ip:port is in LISTEN on a socket of that
  // process group. On failure the error carries log().
  tl::expected<void, std::string> launch(std::vector<std::string> argv);
  // Output captured from the leader's stdout/stderr.
  std::string process_output() const;
  // Appended to launch()'s error: what the log cannot show.
  virtual std::string start_failure_hint() const { return {}; }

  // Copies `tls` into dir()/tls/{cert,key}.pem owned by uid:gid, key mode 0600. Returns the
  // copies.
  tl::expected<TlsFiles, std::string> install_tls_files(const TlsFiles& tls, uid_t uid, gid_t gid) const;
  // Creates maildir() with tmp/new/cur owned by uid:gid (the delivering user).
  tl::expected<void, std::string> make_maildir(uid_t uid, gid_t gid) const;

  MxOptions options_;

 private:
  std::string kind_;
  it::TempDir dir_;
  std::optional<test_support::ChildProcess> process_;
};

// --- small helpers shared by the server classes -------------------------------------------

// Runs argv to completion (bounded) with output to `output_file`; error if it does not exit 0.
tl::expected<std::string, std::string> run_to_completion(std::vector<std::string> argv,
                                                         const std::filesystem::path& output_file,
                                                         std::chrono::milliseconds timeout);
// Writes `text` to `path` (mode 0644).
tl::expected<void, std::string> write_file(const std::filesystem::path& path, std::string_view text);
std::string read_file(const std::filesystem::path& path);
// uid and gid of a user name, or an error naming it.
tl::expected<std::pair<uid_t, gid_t>, std::string> lookup_user(const std::string& name);
// True while something is in LISTEN on ip:port (read from /proc/net/tcp: asking the kernel does
// not open a session the server would log or count).
bool is_listening(const std::string& ip, uint16_t port);
// The inode of the LISTEN socket on ip:port, 0 if none.
unsigned long listening_inode(const std::string& ip, uint16_t port);
// True if a process whose process group is `pgid` has socket `inode` open.
bool group_holds_socket(pid_t pgid, unsigned long inode);
// A port that was free on `ip` a moment ago (bind to ip:0); with `port`, whether that one is.
tl::expected<uint16_t, std::string> pick_free_port_on(const std::string& ip, uint16_t port = 0);
// Non-empty reason when a test needing root cannot run.
std::optional<std::string> require_root();

}  // namespace ringpost::interop
