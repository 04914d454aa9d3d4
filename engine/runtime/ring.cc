// See ring.h. The wait uses io_uring_submit_and_wait_timeout so one syscall both submits the
// batch of SQEs the previous iteration queued and sleeps, keeping the per-iteration syscall
// count at one under load.
#include "engine/runtime/ring.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ringpost::engine {

Ring::Ring(unsigned entries) {
  io_uring_params params{};
  // SINGLE_ISSUER and COOP_TASKRUN tell the kernel only this thread submits, so it can skip
  // inter-processor interrupts for task work; fall back when the kernel is older.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc < 0) throw std::runtime_error(std::string("io_uring_queue_init: ") + std::strerror(-rc));
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::sqe(Completion* c) {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (!s) {
    const int n = io_uring_submit(&ring_);
    if (stats_ && n > 0) stats_->sqes.add(static_cast<uint64_t>(n));
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(s, c);
  return s;
}

io_uring_sqe* Ring::sqe_ignored() { return sqe(nullptr); }

unsigned Ring::run_once(int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
  if (stats_) {
    // Without SQPOLL everything queued is submitted by this call; counted before, since the
    // call's return value does not say how many went out when the wait times out.
    const int64_t t = steady_ns();
    stats_->busy_ns.add(static_cast<uint64_t>(t - woke_ns_));
    stats_->sqes.add(io_uring_sq_ready(&ring_));
  }
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (stats_) woke_ns_ = steady_ns();
  // -ETIME: the timeout expired with nothing to do; -EINTR: a signal (our stop request).
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) return 0;
  unsigned count = 0;
  unsigned head;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++count;
    auto* c = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
    int res = cqe->res;
    uint32_t flags = cqe->flags;
    // Advance before dispatch would let the handler's own submits reuse the slot; we advance
    // once after the loop instead, which is safe because handlers only queue SQEs.
    if (c) c->on_complete(res, flags);
  }
  io_uring_cq_advance(&ring_, count);
  return count;
}

}  // namespace ringpost::engine
