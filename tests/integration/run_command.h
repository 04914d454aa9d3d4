// Runs a short-lived command (e.g. `ringpost ctl status`) to completion for a test: stdout and
// stderr captured separately (so --json output can be parsed), exit code, a deadline after
// which it is killed. Owned by the calling test thread; the child is always reaped.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::it {

struct CommandResult {
  int exit_code = -1;  // WEXITSTATUS, or 128 + signal if it was killed
  std::string out;
  std::string err;
  std::string describe() const;  // for assertion messages
};

struct CommandOptions {
  std::filesystem::path cwd;     // empty: the test's
  std::vector<std::string> env;  // "NAME=value" added to the environment (RINGPOST_* are cleared first)
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

// argv[0] is a path (no PATH search). An error only when the command could not be started.
tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                     const CommandOptions& opts = {});

}  // namespace ringpost::it
