// A long-lived child for tests (a server, a daemon, a follower): spawned with its output in a
// file, waited on with deadlines, stopped with SIGTERM then SIGKILL. Owned by one test thread.
// Invariant: a spawned child is always reaped — the destructor calls stop() — and with a
// session of its own (SpawnOptions::new_session) no process of its group outlives stop(), so a
// failing test never leaks a server. it::Process is this class; the interop MX daemons use it
// with a session and descriptor hygiene.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tests/support/subprocess.h"

namespace ringpost::test_support {

class ChildProcess {
 public:
  // See spawn_process(); opts.output_file must be set (output() reads it).
  static tl::expected<ChildProcess, std::string> spawn(std::vector<std::string> argv, SpawnOptions opts);
  // stdout and stderr appended to `output_file`; no session, descriptors inherited.
  static tl::expected<ChildProcess, std::string> spawn(std::vector<std::string> argv,
                                                       std::filesystem::path output_file);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // The process group the child leads, or -1 without a session of its own.
  pid_t process_group() const { return new_session_ ? pid_ : -1; }

  // Non-blocking: reaps the child if it has exited.
  bool running();
  bool wait_for_exit(std::chrono::milliseconds timeout);
  // The raw wait status once reaped (see WIFEXITED etc.), else nullopt.
  std::optional<int> wait_status() const { return status_; }
  std::string describe_exit() const;

  // Polls the captured output until a line contains `needle`; returns that line. Fails
  // early (with the output tail) if the child exits, or when `timeout` passes.
  tl::expected<std::string, std::string> wait_for_line(std::string_view needle,
                                                       std::chrono::milliseconds timeout);
  // Everything captured so far.
  std::string output() const;
  std::string output_tail(std::size_t max_bytes = 4000) const;

  // SIGTERM, wait up to `grace`, then SIGKILL. Returns false only if SIGKILL was needed.
  bool terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL and reap.
  void kill9();
  // terminate(grace), then, with a session of its own, the same for whatever is left of its
  // process group. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  ChildProcess(pid_t pid, std::string name, std::filesystem::path output, bool new_session)
      : pid_(pid), name_(std::move(name)), output_file_(std::move(output)), new_session_(new_session) {}

  pid_t pid_ = -1;
  std::string name_;
  std::filesystem::path output_file_;
  bool new_session_ = false;
  bool stopped_ = false;
  std::optional<int> status_;
};

}  // namespace ringpost::test_support
