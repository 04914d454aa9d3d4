// fork/exec with a session, descriptor hygiene and group-wide stop.
#include "tests/interop/child_process.h"

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

namespace ringpost::interop {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(20);

bool group_alive(pid_t pgid) { return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM); }

bool wait_group_gone(pid_t pgid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (group_alive(pgid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

}  // namespace

tl::expected<ChildProcess, std::string> ChildProcess::spawn(std::vector<std::string> argv,
                                                            std::filesystem::path output_file, bool new_session) {
  if (argv.empty()) return tl::unexpected(std::string("empty argv"));
  // Everything the child touches is prepared before fork(): between fork and exec only
  // async-signal-safe calls are allowed, and the test binary may have other threads.
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return tl::unexpected(fmt::format("open {}: {}", output_file.string(), std::strerror(errno)));
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    ::close(out);
    return tl::unexpected(fmt::format("open /dev/null: {}", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
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
    // Descriptors the test opened without O_CLOEXEC (a socket holding a port, say) must not
    // leak into a daemon that lives on with them. Closed before setsid(): the parent takes
    // "a socket held by the child's process group" as the server being up, and until setsid()
    // the child is not in a group of its own.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    if (new_session) ::setsid();
    ::execv(cargv[0], cargv.data());
    const char msg[] = "child_process.cc: execv failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out);
  ::close(devnull);
  return ChildProcess(pid, std::filesystem::path(argv[0]).filename().string(), std::move(output_file), new_session);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      name_(std::move(other.name_)),
      output_file_(std::move(other.output_file_)),
      new_session_(other.new_session_),
      stopped_(other.stopped_),
      status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = other.pid_;
    name_ = std::move(other.name_);
    output_file_ = std::move(other.output_file_);
    new_session_ = other.new_session_;
    stopped_ = other.stopped_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

bool ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

std::string ChildProcess::describe_exit() const {
  if (!status_) return "still running";
  int st = *status_;
  if (WIFEXITED(st)) return fmt::format("exited with status {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("killed by signal {} ({})", WTERMSIG(st), ::strsignal(WTERMSIG(st)));
  return fmt::format("wait status {}", st);
}

std::string ChildProcess::output() const {
  std::ifstream in(output_file_, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || stopped_) return;
  stopped_ = true;
  // The leader first: each daemon shuts its own children down (Postfix's master signals its
  // process group, smtpd its privsep processes, the Exim daemon just exits).
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!wait_for_exit(grace)) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      // SIGKILL cannot be caught; the blocking wait is bounded by the kernel's teardown.
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
      status_ = st;
    }
  }
  // Whatever is left of the group (an Exim delivery process, a Postfix child that has not yet
  // noticed its master is gone) must not go on writing into a directory being removed.
  pid_t group = process_group();
  if (group_alive(group)) {
    ::kill(-group, SIGTERM);
    if (!wait_group_gone(group, std::chrono::seconds(2))) {
      ::kill(-group, SIGKILL);
      wait_group_gone(group, std::chrono::seconds(5));
    }
  }
}

}  // namespace ringpost::interop
