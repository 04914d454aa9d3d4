// A child process for integration tests: spawned from an argv, stdout+stderr captured to a
// file, waited on with deadlines, stopped with SIGTERM or SIGKILL. Owned by one test thread.
// Invariant: a Process that was spawned is always reaped: the destructor stops it (SIGTERM,
// then SIGKILL after a grace period) and waits, so a failing test never leaks a server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::it {

class Process {
 public:
  // Forks and execs argv[0] (a path, no PATH search) with output appended to `output_file`.
  // The child gets PR_SET_PDEATHSIG(SIGKILL), so even a crashed test binary leaves no orphans.
  static tl::expected<Process, std::string> spawn(std::vector<std::string> argv,
                                                  std::filesystem::path output_file);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // Non-blocking: reaps the child if it has exited.
  bool running();
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

 private:
  Process(pid_t pid, std::string name, std::filesystem::path output)
      : pid_(pid), name_(std::move(name)), output_file_(std::move(output)) {}
  bool wait_for_exit(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  std::string name_;
  std::filesystem::path output_file_;
  std::optional<int> status_;
};

}  // namespace ringpost::it
