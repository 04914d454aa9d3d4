// See kernel_probe.h. Opcodes are read from the kernel's own probe (IORING_REGISTER_PROBE);
// multishot accept is a flag of an opcode older than it, so the probe cannot show it: it is
// tried for real on a listening loopback socket and cancelled, and an old kernel answers the
// accept with -EINVAL at once.
#include "engine/runtime/kernel_probe.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringpost::engine {
namespace {

bool forced_fail(const std::string& feature) {
  const char* f = std::getenv("RINGPOST_KERNEL_PROBE_FAIL");
  return f && feature == f;
}

std::string missing(const std::string& feature, const char* since, const std::string& detail = {}) {
  utsname u{};
  ::uname(&u);
  return fmt::format("ringpost: kernel {} lacks io_uring feature '{}'{}, which Linux {} added; ringpost needs Linux {} or later",
                     u.release, feature, detail.empty() ? "" : " (" + detail + ")", since, kMinKernel);
}

struct OpcodeNeed {
  int op;
  const char* name;
  const char* since;
};

// Every opcode the engine prepares (engine/, bench/sink): io_uring_prep_* in the sources.
constexpr OpcodeNeed kOpcodes[] = {
    {IORING_OP_ACCEPT, "ACCEPT", "5.5"},       {IORING_OP_CONNECT, "CONNECT", "5.5"},
    {IORING_OP_RECV, "RECV", "5.6"},           {IORING_OP_SEND, "SEND", "5.6"},
    {IORING_OP_READ, "READ", "5.6"},           {IORING_OP_WRITE, "WRITE", "5.6"},
    {IORING_OP_FSYNC, "FSYNC", "5.1"},         {IORING_OP_POLL_ADD, "POLL_ADD", "5.1"},
    {IORING_OP_POLL_REMOVE, "POLL_REMOVE", "5.1"}, {IORING_OP_TIMEOUT, "TIMEOUT", "5.4"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", "5.5"},
};

// Returns the accept's first result: -ECANCELED when multishot works, -EINVAL when it does not.
int try_multishot_accept(io_uring* ring) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  io_uring_sqe* s = io_uring_get_sqe(ring);
  io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(s, 1);
  s = io_uring_get_sqe(ring);
  io_uring_prep_cancel64(s, 1, 0);
  io_uring_sqe_set_data64(s, 2);
  io_uring_submit(ring);
  int result = 0;
  // Two completions at most (the accept's and the cancel's); a timeout bounds the wait so a
  // kernel that loses one cannot hang start-up.
  for (int seen = 0; seen < 2;) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{.tv_sec = 2, .tv_nsec = 0};
    if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) != 0) break;
    if (cqe->user_data == 1) result = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    ++seen;
  }
  ::close(fd);
  return result;
}

}  // namespace

std::string kernel_problem() {
  io_uring ring{};
  io_uring_params params{};
  int rc = forced_fail("io_uring") ? -ENOSYS : io_uring_queue_init_params(8, &ring, &params);
  if (rc < 0)
    return missing("io_uring", "5.1",
                   fmt::format("io_uring_setup: {}; also check sysctl kernel.io_uring_disabled and seccomp", std::strerror(-rc)));
  std::string problem;
  if (!(params.features & IORING_FEAT_EXT_ARG) || forced_fail("ext_arg")) {
    problem = missing("ext_arg", "5.11", "io_uring_submit_and_wait_timeout");
  }
  if (problem.empty()) {
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    if (!probe) problem = missing("probe", "5.6");
    for (const auto& need : kOpcodes) {
      if (!problem.empty()) break;
      const std::string name = std::string("opcode:") + need.name;
      if (!io_uring_opcode_supported(probe, need.op) || forced_fail(name)) problem = missing(name, need.since);
    }
    if (probe) io_uring_free_probe(probe);
  }
  if (problem.empty()) {
    const int res = forced_fail("multishot_accept") ? -EINVAL : try_multishot_accept(&ring);
    if (res == -EINVAL) problem = missing("multishot_accept", "5.19");
  }
  io_uring_queue_exit(&ring);
  return problem;
}

}  // namespace ringpost::engine
