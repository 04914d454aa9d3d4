// fork/exec, bounded reaping and termination for test children; see subprocess.h.
#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace ringpost::test_support {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(10);

bool group_alive(pid_t pgid) { return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM); }

bool wait_group_gone(pid_t pgid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (group_alive(pgid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

tl::expected<pid_t, std::string> spawn_process(std::vector<std::string> argv, const SpawnOptions& opts) {
  if (argv.empty()) return tl::unexpected(std::string("empty argv"));
  // Everything the child touches is prepared before fork(): between fork and exec only
  // async-signal-safe calls are allowed, and the test binary may have other threads.
  std::vector<char*> cargv = c_strings(argv);
  std::vector<std::string> env = opts.env.value_or(std::vector<std::string>{});
  std::vector<char*> cenv = c_strings(env);
  const std::string cwd = opts.cwd.string();
  const std::string exec_failed = fmt::format("test child: execv {} failed\n", argv[0]);

  int out = -1;
  if (!opts.output_file.empty()) {
    out = ::open(opts.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return tl::unexpected(fmt::format("open {}: {}", opts.output_file.string(), std::strerror(errno)));
  }
  const int out_fd = out >= 0 ? out : opts.stdout_fd;
  const int err_fd = out >= 0 ? out : opts.stderr_fd;
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    const int e = errno;
    if (out >= 0) ::close(out);
    return tl::unexpected(fmt::format("open /dev/null: {}", std::strerror(e)));
  }
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    if (out >= 0) ::close(out);
    ::close(devnull);
    return tl::unexpected(fmt::format("fork: {}", std::strerror(e)));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(devnull, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    // Closed before setsid(): the interop harness takes "a socket held by the child's process
    // group" as the server being up, and until setsid() the child is not in a group of its own.
    if (opts.close_other_fds && ::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    if (opts.new_session) ::setsid();
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (opts.env) {
      ::execve(cargv[0], cargv.data(), cenv.data());
    } else {
      ::execv(cargv[0], cargv.data());
    }
    [[maybe_unused]] auto n = ::write(2, exec_failed.data(), exec_failed.size());
    ::_exit(127);
  }
  if (out >= 0) ::close(out);
  ::close(devnull);
  return pid;
}

std::optional<int> try_reap(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) return status;
  // ECHILD: somebody else reaped it; report it as gone rather than running forever.
  if (r < 0) return 0;
  return std::nullopt;
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto status = try_reap(pid)) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPoll);
  }
}

int kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

Terminated terminate_process(pid_t pid, std::chrono::milliseconds grace) {
  if (auto status = try_reap(pid)) return {*status, false};
  ::kill(pid, SIGTERM);
  if (auto status = wait_for_exit(pid, grace)) return {*status, false};
  return {kill_and_reap(pid), true};
}

void stop_process_group(pid_t pgid) {
  if (!group_alive(pgid)) return;
  ::kill(-pgid, SIGTERM);
  if (!wait_group_gone(pgid, std::chrono::seconds(2))) {
    ::kill(-pgid, SIGKILL);
    wait_group_gone(pgid, std::chrono::seconds(5));
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  return fmt::format("wait status {}", status);
}

tl::expected<Completed, std::string> run_to_completion(std::vector<std::string> argv, const SpawnOptions& opts,
                                                       std::chrono::milliseconds timeout) {
  auto pid = spawn_process(std::move(argv), opts);
  if (!pid) return tl::unexpected(pid.error());
  if (auto status = wait_for_exit(*pid, timeout)) return Completed{*status, false};
  return Completed{kill_and_reap(*pid), true};
}

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ringpost::test_support
