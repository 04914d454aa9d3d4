// Child processes for the DNS harness; see subprocess.h for the invariants.
#include "tests/dns_support/subprocess.h"

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

namespace ringpost::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(10);

// Blocks up to `timeout` for `pid` to exit; its status, or nullopt if it is still running.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto status = try_reap(pid)) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPoll);
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

tl::expected<pid_t, std::string> spawn_child(const std::vector<std::string>& argv,
                                             const std::filesystem::path& output) {
  if (argv.empty()) return tl::unexpected(std::string("empty argv"));
  // Everything the child touches is prepared before fork(): between fork and exec only
  // async-signal-safe calls are allowed, and the test binary may have other threads.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return tl::unexpected(fmt::format("open {}: {}", output.string(), std::strerror(errno)));
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    const int e = errno;
    ::close(out);
    return tl::unexpected(fmt::format("open /dev/null: {}", std::strerror(e)));
  }
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(out);
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
    ::dup2(out, 1);
    ::dup2(out, 2);
    // A socket the harness holds (the blackhole on the server's port) must never leak into
    // knotd: it would keep the port after stop() and swallow queries meant for the server.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    ::setsid();
    ::execv(cargv[0], cargv.data());
    static constexpr char kMsg[] = "subprocess.cc: execv failed\n";
    [[maybe_unused]] auto n = ::write(2, kMsg, sizeof(kMsg) - 1);
    ::_exit(127);
  }
  ::close(out);
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

int terminate_child(pid_t pid, std::chrono::milliseconds grace) {
  if (auto status = try_reap(pid)) return *status;
  ::kill(pid, SIGTERM);
  if (auto status = wait_for(pid, grace)) return *status;
  // The whole session: knotd forks nothing today, but a stuck server must not hold the port.
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  // SIGKILL cannot be ignored; the bound only guards against an unkillable (D-state) child.
  if (auto status = wait_for(pid, std::chrono::seconds(5))) return *status;
  return -1;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("wait status {}", status);
}

bool CommandResult::exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

tl::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                     const std::filesystem::path& output,
                                                     std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::remove(output, ec);
  auto pid = spawn_child(argv, output);
  if (!pid) return tl::unexpected(pid.error());
  auto status = wait_for(*pid, timeout);
  if (!status) {
    terminate_child(*pid, std::chrono::milliseconds(500));
    return tl::unexpected(fmt::format("{} did not finish within {} ms: {}", argv[0], timeout.count(),
                                      read_file(output)));
  }
  return CommandResult{*status, read_file(output)};
}

}  // namespace ringpost::testing
