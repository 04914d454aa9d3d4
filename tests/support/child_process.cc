// A reaped-on-destruction child process over subprocess.h.
#include "tests/support/child_process.h"

#include <thread>

#include <fmt/format.h>

namespace ringpost::test_support {
namespace {

using Clock = std::chrono::steady_clock;
// Re-reading the whole output file each poll is fine for the few KiB a server prints at start.
constexpr auto kLinePoll = std::chrono::milliseconds(20);

}  // namespace

tl::expected<ChildProcess, std::string> ChildProcess::spawn(std::vector<std::string> argv, SpawnOptions opts) {
  if (argv.empty()) return tl::unexpected(std::string("empty argv"));
  std::string name = std::filesystem::path(argv[0]).filename().string();
  auto pid = spawn_process(std::move(argv), opts);
  if (!pid) return tl::unexpected(pid.error());
  return ChildProcess(*pid, std::move(name), std::move(opts.output_file), opts.new_session);
}

tl::expected<ChildProcess, std::string> ChildProcess::spawn(std::vector<std::string> argv,
                                                            std::filesystem::path output_file) {
  return spawn(std::move(argv), SpawnOptions{.output_file = std::move(output_file)});
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
  status_ = try_reap(pid_);
  return !status_;
}

bool ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  if (!running()) return true;
  status_ = test_support::wait_for_exit(pid_, timeout);
  return status_.has_value();
}

std::string ChildProcess::describe_exit() const {
  return status_ ? describe_wait_status(*status_) : "still running";
}

std::string ChildProcess::output() const { return read_whole_file(output_file_); }

std::string ChildProcess::output_tail(std::size_t max_bytes) const {
  std::string all = output();
  if (all.size() <= max_bytes) return all;
  return "..." + all.substr(all.size() - max_bytes);
}

tl::expected<std::string, std::string> ChildProcess::wait_for_line(std::string_view needle,
                                                                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
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
    std::this_thread::sleep_for(kLinePoll);
  }
}

bool ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return true;  // already gone: no SIGKILL was needed
  Terminated t = terminate_process(pid_, grace);
  status_ = t.status;
  return !t.killed;
}

void ChildProcess::kill9() {
  if (!running()) return;
  status_ = kill_and_reap(pid_);
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || stopped_) return;
  stopped_ = true;
  // The leader first: each daemon shuts its own children down (Postfix's master signals its
  // process group, smtpd its privsep processes, the Exim daemon just exits).
  terminate(grace);
  if (new_session_) stop_process_group(pid_);
}

}  // namespace ringpost::test_support
