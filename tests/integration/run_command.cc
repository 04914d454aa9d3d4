// See run_command.h. Output goes to memfds, not pipes: the child can never block on a full
// pipe while we wait for it, and nothing is left on disk. Spawning and reaping are
// tests/support's run_to_completion.
#include "tests/integration/run_command.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tests/support/subprocess.h"

extern char** environ;

namespace ringpost::it {
namespace {

std::string read_all(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

std::string CommandResult::describe() const {
  return fmt::format("exit {}\n--- stdout ---\n{}--- stderr ---\n{}", exit_code, out, err);
}

tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv, const CommandOptions& opts) {
  if (argv.empty()) return tl::make_unexpected(std::string("run_command: empty argv"));
  const int out_fd = ::memfd_create("stdout", MFD_CLOEXEC);
  const int err_fd = ::memfd_create("stderr", MFD_CLOEXEC);
  if (out_fd < 0 || err_fd < 0) return tl::make_unexpected(fmt::format("memfd_create: {}", std::strerror(errno)));
  test_support::SpawnOptions spawn;
  spawn.stdout_fd = out_fd;
  spawn.stderr_fd = err_fd;
  spawn.cwd = opts.cwd;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "RINGPOST_", 9) != 0) env.emplace_back(*e);
  env.insert(env.end(), opts.env.begin(), opts.env.end());
  spawn.env = std::move(env);

  auto done = test_support::run_to_completion(argv, spawn, opts.timeout);
  if (!done) {
    ::close(out_fd);
    ::close(err_fd);
    return tl::make_unexpected(done.error());
  }
  const int status = done->status;
  CommandResult res;
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  res.out = read_all(out_fd);
  res.err = read_all(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return res;
}

}  // namespace ringpost::it
