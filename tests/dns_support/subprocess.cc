// Child processes for the DNS harness over tests/support; see subprocess.h.
#include "tests/dns_support/subprocess.h"

#include <sys/wait.h>

#include <fmt/format.h>

namespace ringpost::testing {
namespace {

test_support::SpawnOptions helper_options(const std::filesystem::path& output) {
  test_support::SpawnOptions o;
  o.output_file = output;
  o.new_session = true;
  o.close_other_fds = true;
  return o;
}

}  // namespace

tl::expected<pid_t, std::string> spawn_child(const std::vector<std::string>& argv,
                                             const std::filesystem::path& output) {
  return test_support::spawn_process(argv, helper_options(output));
}

int terminate_child(pid_t pid, std::chrono::milliseconds grace) {
  const int status = test_support::terminate_process(pid, grace).status;
  test_support::stop_process_group(pid);
  return status;
}

bool CommandResult::exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                     const std::filesystem::path& output,
                                                     std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::remove(output, ec);
  auto done = test_support::run_to_completion(argv, helper_options(output), timeout);
  if (!done) return tl::unexpected(done.error());
  const std::string printed = test_support::read_whole_file(output);
  if (done->timed_out) {
    return tl::unexpected(fmt::format("{} did not finish within {} ms: {}", argv[0], timeout.count(), printed));
  }
  return CommandResult{done->status, printed};
}

}  // namespace ringpost::testing
