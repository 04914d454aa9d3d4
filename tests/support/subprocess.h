// The one implementation of child processes for tests: fork/exec with redirected output, reaping
// with a deadline, SIGTERM-then-SIGKILL, a process group's cleanup, a readable wait status.
// tests/integration (Process, run_command), tests/interop (MX daemons) and tests/dns_support
// (knotd, knotc) are thin layers over these. Owned by the calling test thread.
// Invariant: a child inherits stdin (/dev/null), stdout and stderr, and nothing else the test
// asked to close; whoever spawns a pid reaps it (terminate_process, kill_and_reap, run_to_completion).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::test_support {

struct SpawnOptions {
  // stdout and stderr appended to this file (created 0644)...
  std::filesystem::path output_file;
  // ...or, when output_file is empty, these descriptors (a memfd, say) as stdout and stderr.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // setsid(): the child's pid is its process group, so a daemon and what it forks can be
  // signalled as one (stop_process_group).
  bool new_session = false;
  // Close every descriptor above 2, even those opened without O_CLOEXEC: a socket the test
  // holds (a port kept busy) must never end up in a server, where it would pass for its own.
  bool close_other_fds = false;
  std::filesystem::path cwd;                      // empty: the test's
  std::optional<std::vector<std::string>> env;    // the whole environment; nullopt: the test's
};

// Forks and execs argv[0] (a path, no PATH search). The child gets PR_SET_PDEATHSIG(SIGKILL),
// so a crashed test binary leaves nothing behind; it starts with no signal blocked.
tl::expected<pid_t, std::string> spawn_process(std::vector<std::string> argv, const SpawnOptions& opts);

// Reaps `pid` if it has exited (non-blocking): its wait status, or nullopt while it runs.
// A pid that is no child of ours (ECHILD) counts as gone, with status 0.
std::optional<int> try_reap(pid_t pid);

// Polls up to `timeout` for `pid` to exit: its wait status, or nullopt if it still runs.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// SIGKILL and reap. SIGKILL cannot be caught, so the blocking wait is bounded by the kernel
// tearing the process down.
int kill_and_reap(pid_t pid);

struct Terminated {
  int status = 0;       // the wait status
  bool killed = false;  // SIGTERM was not enough within the grace period
};
// SIGTERM, up to `grace` for it to exit, then SIGKILL; always reaps. For a child that has
// not been reaped yet.
Terminated terminate_process(pid_t pid, std::chrono::milliseconds grace);

// For a child spawned with new_session, after the leader is gone: whatever is left of its
// process group (a daemon's worker that has not noticed its master is gone) gets SIGTERM,
// up to 2 s, then SIGKILL, so nothing goes on writing into a directory being removed.
void stop_process_group(pid_t pgid);

// "exited with status N", "killed by signal N (Name)" — for assertion messages.
std::string describe_wait_status(int status);

struct Completed {
  int status = 0;          // the wait status
  bool timed_out = false;  // killed (SIGKILL) because it outlived the timeout
};
// Runs a short-lived command to completion; an error only when it could not be started.
tl::expected<Completed, std::string> run_to_completion(std::vector<std::string> argv, const SpawnOptions& opts,
                                                       std::chrono::milliseconds timeout);

// A child's output file (or any file) as it is now; empty if it cannot be read.
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace ringpost::test_support
