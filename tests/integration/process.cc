// fork/exec with output capture, and bounded waits on the child.
#include "tests/integration/process.h"

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

namespace ringpost::it {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(20);

}  // namespace

tl::expected<Process, std::string> Process::spawn(std::vector<std::string> argv,
                                                  std::filesystem::path output_file) {
  if (argv.empty()) return tl::unexpected(std::string("empty argv"));
  // Everything the child touches is prepared before fork(): between fork and exec only
  // async-signal-safe calls are allowed, and the test binary may have other threads.
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return tl::unexpected(fmt::format("open {}: {}", output_file.string(), std::strerror(errno)));
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(out);
    ::close(devnull);
    return tl::unexpected(fmt::format("fork: {}", std::strerror(e)));
  }
  if (pid == 0) {
    // Child. If the test binary dies (even by SIGKILL), take the server down with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(cargv[0], cargv.data());
    const char msg[] = "process.cc: execv failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out);
  ::close(devnull);
  return Process(pid, std::filesystem::path(argv[0]).filename().string(), std::move(output_file));
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), name_(std::move(other.name_)), output_file_(std::move(other.output_file_)),
      status_(other.status_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) terminate();
    pid_ = other.pid_;
    name_ = std::move(other.name_);
    output_file_ = std::move(other.output_file_);
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) terminate(std::chrono::seconds(5));
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

std::string Process::describe_exit() const {
  if (!status_) return "still running";
  int st = *status_;
  if (WIFEXITED(st)) return fmt::format("exited with status {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("killed by signal {} ({})", WTERMSIG(st), ::strsignal(WTERMSIG(st)));
  return fmt::format("wait status {}", st);
}

std::string Process::output() const {
  std::ifstream in(output_file_, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Process::output_tail(std::size_t max_bytes) const {
  std::string all = output();
  if (all.size() <= max_bytes) return all;
  return "..." + all.substr(all.size() - max_bytes);
}

tl::expected<std::string, std::string> Process::wait_for_line(std::string_view needle,
                                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Re-reading the whole file each poll is fine for the few KiB a server prints at start.
    std::string all = output();
    if (auto at = all.find(needle); at != std::string::npos) {
      auto begin = all.rfind('\n', at);
      begin = begin == std::string::npos ? 0 : begin + 1;
      auto end = all.find('\n', at);
      // Only a complete line counts: a half-written line may still be missing its port digits.
      if (end != std::string::npos) return all.substr(begin, end - begin);
    }
    if (!running()) {
      return tl::unexpected(fmt::format("{} {} before printing '{}'; output:\n{}", name_, describe_exit(),
                                        needle, output_tail()));
    }
    if (Clock::now() >= deadline) {
      return tl::unexpected(fmt::format("{} did not print '{}' within {} ms; output:\n{}", name_, needle,
                                        timeout.count(), output_tail()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

bool Process::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

bool Process::terminate(std::chrono::milliseconds grace) {
  if (!running()) return true;  // already gone: no SIGKILL was needed
  ::kill(pid_, SIGTERM);
  if (wait_for_exit(grace)) return true;
  kill9();
  return false;
}

void Process::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  // SIGKILL cannot be caught; a blocking wait is bounded by the kernel tearing the process down.
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
}

}  // namespace ringpost::it
