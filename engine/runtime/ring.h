// A thin owner of one io_uring instance. Each shard and the HTTP front own exactly one Ring and
// touch it only from their own thread. Completions are dispatched to the Completion object whose
// address is the SQE's user_data; the owner of a Completion must keep it alive until its CQE has
// been seen (the pending-op counts in the connection types enforce that).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <system_error>

#include "engine/ops/metrics/ring_stats.h"

namespace ringpost::engine {

class Completion {
 public:
  virtual void on_complete(int res, uint32_t flags) = 0;

 protected:
  ~Completion() = default;
};

class Ring {
 public:
  explicit Ring(unsigned entries = 4096);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Never returns null: when the SQ is full it submits what is queued and tries again, the
  // shape of liburing's examples/proxy.c. Callers can then queue ops without error paths.
  io_uring_sqe* sqe(Completion* c);
  // An SQE whose CQE is ignored (user_data 0), for fire-and-forget cancels.
  io_uring_sqe* sqe_ignored();

  // Submits queued SQEs, waits up to timeout_ms for at least one completion, dispatches all
  // available completions. Returns the number dispatched.
  unsigned run_once(int timeout_ms);
  io_uring* raw() { return &ring_; }
  // From now on, busy time and submissions are added to *stats (owned by the caller, who keeps
  // it alive as long as the ring) for /metrics.
  void count_into(RingStats* stats) {
    stats_ = stats;
    woke_ns_ = steady_ns();
  }

 private:
  io_uring ring_{};
  RingStats* stats_ = nullptr;
  int64_t woke_ns_ = 0;  // when the last wait returned
};

}  // namespace ringpost::engine
