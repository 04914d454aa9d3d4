// Child processes for the DNS harness: knotd as a long-lived child, knotc as a bounded one-shot.
// Thin names over tests/support/subprocess.h, which holds the one implementation (fork/exec,
// reaping, termination) for all test harnesses. Owned by the thread that spawns
// (PR_SET_PDEATHSIG fires when *that thread* exits, so a test binary that crashes leaves no
// knotd behind). Invariant: every child spawned here is reaped by terminate_child() or
// run_command(); the child inherits only stdin (/dev/null) and stdout/stderr (a file).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/support/subprocess.h"

namespace ringpost::testing {

using test_support::describe_wait_status;
using test_support::try_reap;

// Starts argv[0] (a path, no PATH search) in a session of its own, stdout and stderr appended
// to `output`, no other descriptor inherited: a socket the harness holds (the blackhole on the
// server's port) must never leak into knotd, where it would keep the port after stop().
tl::expected<pid_t, std::string> spawn_child(const std::vector<std::string>& argv, const std::filesystem::path& output);

// SIGTERM, up to `grace` for it to exit, then SIGKILL; then the same for what is left of its
// session (knotd forks nothing today, but a stuck server must not hold the port). Always
// reaps. Returns the wait status.
int terminate_child(pid_t pid, std::chrono::milliseconds grace);

struct CommandResult {
  int status = 0;  // wait status; exited_ok() for exit code 0
  std::string output;
  bool exited_ok() const;
};

// Runs a helper to completion, its output in `output` (emptied first). Killed (and reported as
// an error) if it outlives `timeout`.
tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                     const std::filesystem::path& output,
                                                     std::chrono::milliseconds timeout);

}  // namespace ringpost::testing
