// A child process for the interop harness: a server daemon (leader of its own session, so the
// daemon and every process it forks can be signalled as one group) or a short helper (postfix
// check, openssl, the python probe). Owned by one test thread.
// Invariants: the child inherits no descriptor but stdin (/dev/null) and stdout/stderr (the
// output file) — a listening socket the test holds must never end up in a server, where it
// would pass for the server's own; a spawned child is always reaped, and with a session of its
// own, no process of that group outlives stop() (the destructor calls it).
// tests/integration's Process does the same for single processes; this one adds the session,
// the group-wide stop and the descriptor hygiene the daemons need.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::interop {

class ChildProcess {
 public:
  // Forks and execs argv[0] (a path, no PATH search) with stdout and stderr appended to
  // `output_file`. With `new_session` the child calls setsid(): its pid is its process group.
  // The child gets PR_SET_PDEATHSIG(SIGKILL), so a crashed test binary leaves no daemon behind.
  static tl::expected<ChildProcess, std::string> spawn(std::vector<std::string> argv,
                                                       std::filesystem::path output_file, bool new_session);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The process group the child leads, or -1 without a session of its own.
  pid_t process_group() const { return new_session_ ? pid_ : -1; }

  // Non-blocking: reaps the child if it has exited.
  bool running();
  bool wait_for_exit(std::chrono::milliseconds timeout);
  std::optional<int> wait_status() const { return status_; }
  std::string describe_exit() const;
  std::string output() const;

  // SIGTERM to the child and up to `grace` for it to exit, then SIGKILL. With a session of its
  // own, then the same for whatever is left of its process group. Idempotent.
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

}  // namespace ringpost::interop
