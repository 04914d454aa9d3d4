// See run_command.h. Output goes to memfds, not pipes: the child can never block on a full
// pipe while we wait for it, and nothing is left on disk.
#include "tests/integration/run_command.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

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
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "RINGPOST_", 9) != 0) env.emplace_back(*e);
  env.insert(env.end(), opts.env.begin(), opts.env.end());
  std::vector<char*> cenv, cargv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string cwd = opts.cwd.string();

  const pid_t pid = ::fork();
  if (pid < 0) return tl::make_unexpected(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CommandResult res;
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  res.out = read_all(out_fd);
  res.err = read_all(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return res;
}

}  // namespace ringpost::it
