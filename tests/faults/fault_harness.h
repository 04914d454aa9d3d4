// Fault-test harness: starts fault_smtp.py (the fault-injecting scripted SMTP server) and
// `ringpost serve` with per-domain delivery keys the integration ServerConfig does not render
// (timeouts, chunking, tls, idle_timeout), reads the script's JSON-lines log, and polls the
// status API with a deadline. Owned by one test thread; every child is reaped by RAII.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"

namespace ringpost::faults {

using it::MessageStatus;
using it::Process;
using it::RecipientStatus;
using it::RingpostApi;

// One line of fault_smtp.py's log (see the docstring there for the fields).
struct FaultEvent {
  int session = 0;
  std::string ev;    // connect | cmd | reply | fault | bdat | message | disconnect | error
  double t = 0;      // monotonic seconds
  std::string line;  // cmd / reply
  int read = 0;      // cmd: TCP read number within the session
  double arrived = 0;  // cmd: when that read returned (t is when the line was processed)
  std::string kind, cmd;             // fault
  std::string by, during;            // disconnect
  std::string mode, file, mail;      // message
  bool complete = false, last = false;
  std::optional<std::string> reply;  // message: the reply sent to its end, nullopt if none
  int64_t bytes = 0, size = 0;       // message bytes / bdat size
  std::vector<std::string> rcpts;    // message: RCPT arguments accepted ("TO:<a@b> ...")
  std::vector<int64_t> chunks;       // message: BDAT chunk sizes

  // "MAIL", "RCPT", ... for a cmd event (upper-cased first word).
  std::string verb() const;
};

struct FaultLog {
  std::vector<FaultEvent> events;
  std::string raw;  // the log text, for failure messages

  int connects() const;
  int max_session() const;
  std::vector<FaultEvent> of(std::string_view ev, int session = 0) const;  // session 0 = all
  std::vector<FaultEvent> commands(std::string_view verb = {}, int session = 0) const;
  std::vector<FaultEvent> messages(int session = 0) const;
  std::optional<FaultEvent> disconnect(int session) const;
  // The log lines of one session (all sessions for 0), for failure messages.
  std::string session_text(int session) const;
};

// Reads a file written by the script (a saved payload).
std::string read_file(const std::filesystem::path& p);
// The address inside "<...>" of a MAIL/RCPT argument.
std::string angle_addr(std::string_view arg);

class FaultSmtp {
 public:
  // Starts fault_smtp.py on 127.0.0.1:port with `args` (see the script's --help).
  static tl::expected<FaultSmtp, std::string> start(const std::filesystem::path& dir, uint16_t port,
                                                    std::vector<std::string> args);
  uint16_t port() const { return port_; }
  tl::expected<FaultLog, std::string> log() const;
  std::string log_text() const;
  Process& process() { return process_; }

 private:
  FaultSmtp(Process p, std::filesystem::path log, uint16_t port)
      : process_(std::move(p)), log_file_(std::move(log)), port_(port) {}
  Process process_;
  std::filesystem::path log_file_;
  uint16_t port_;
};

// ringpost with one routed domain and extra TOML lines in that domain's section.
struct FaultServerConfig {
  it::ServerConfig base;               // domains left empty; rendered by it::render_toml
  std::string domain;                  // e.g. "fault.test"
  uint16_t smtp_port = 0;              // route = 127.0.0.1:smtp_port
  std::vector<std::string> policy;     // raw TOML lines, e.g. R"(rcpt_timeout = "1s")"
};

class FaultRingpost {
 public:
  static tl::expected<FaultRingpost, std::string> start(const std::filesystem::path& dir, FaultServerConfig cfg);
  uint16_t port() const { return port_; }
  Process& process() { return process_; }
  std::string toml() const { return toml_; }

 private:
  FaultRingpost(Process p, uint16_t port, std::string toml)
      : process_(std::move(p)), port_(port), toml_(std::move(toml)) {}
  Process process_;
  uint16_t port_;
  std::string toml_;
};

// POST /v1/messages with a raw RFC 5322 message.
tl::expected<std::string, std::string> submit_raw(RingpostApi& api, std::string_view from,
                                                  const std::vector<std::string>& to, std::string_view raw);

// Polls GET /v1/messages/{id} until pred(status) or the timeout; every distinct summary seen is
// appended to *history. Returns the last status read (also when the timeout passed).
struct Polled {
  bool ok = false;
  MessageStatus last;
  std::string history;
};
Polled poll_status(RingpostApi& api, const std::string& id, std::chrono::milliseconds timeout,
                   const std::function<bool(const MessageStatus&)>& pred,
                   std::chrono::milliseconds every = std::chrono::milliseconds(25));

bool is_final(const RecipientStatus& r);
bool all_final(const MessageStatus& m);
const RecipientStatus* find_rcpt(const MessageStatus& m, std::string_view address);
bool contains_icase(std::string_view hay, std::string_view needle);

}  // namespace ringpost::faults
