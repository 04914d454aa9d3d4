// fork/exec for the DNS harness: knotd as a long-lived child, knotc as a bounded one-shot.
// Owned by the thread that spawns (PR_SET_PDEATHSIG fires when *that thread* exits, so a test
// binary that crashes leaves no knotd behind). Invariant: every child spawned here is reaped by
// terminate() or run(); the child inherits only stdin (/dev/null) and stdout/stderr (a file).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::testing {

// Starts argv[0] (a path, no PATH search) in a session of its own, stdout and stderr appended
// to `output`.
tl::expected<pid_t, std::string> spawn_child(const std::vector<std::string>& argv, const std::filesystem::path& output);

// Reaps `pid` if it has exited (non-blocking): its wait status, or nullopt while it runs.
std::optional<int> try_reap(pid_t pid);

// SIGTERM, up to `grace` for it to exit, then SIGKILL; always reaps. Returns the wait status.
int terminate_child(pid_t pid, std::chrono::milliseconds grace);

std::string describe_wait_status(int status);

struct CommandResult {
  int status = 0;  // wait status; exited_ok() for exit code 0
  std::string output;
  bool exited_ok() const;
};

// Runs a helper to completion. Killed (and reported as an error) if it outlives `timeout`.
tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                     const std::filesystem::path& output,
                                                     std::chrono::milliseconds timeout);

}  // namespace ringpost::testing
