// A multi-producer, single-consumer handoff into a thread that sleeps in io_uring: a moodycamel
// lock-free queue plus an eventfd that the consumer keeps a read armed on, so a producer's
// notify() wakes the consumer's ring. Producers may be any thread; only the owner drains.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <vector>

// liburing pulls in <linux/fs.h>, whose BLOCK_SIZE macro collides with moodycamel's member
// of that name; hide it while the queue's header is parsed.
#pragma push_macro("BLOCK_SIZE")
#undef BLOCK_SIZE
#include <concurrentqueue/concurrentqueue.h>
#pragma pop_macro("BLOCK_SIZE")

#include "engine/runtime/ring.h"

namespace ringpost::engine {

template <typename T>
class Mailbox : private Completion {
 public:
  Mailbox() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Mailbox() { ::close(fd_); }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Producer side. Call notify() once after a burst of pushes: one eventfd write per burst
  // instead of per item keeps the producer's syscall count flat under load.
  void push(T item) { queue_.enqueue(std::move(item)); }
  void notify() {
    // Only the first notify after the consumer went to drain needs the syscall; later ones
    // find the flag set and know a wakeup is already pending.
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
    }
  }

  // Consumer side: arm the wakeup read on the owner's ring (once, from the owner thread).
  void arm(Ring& ring) {
    ring_ = &ring;
    rearm();
  }
  // Moves up to max items into out; returns how many.
  std::size_t drain(std::vector<T>& out, std::size_t max = 4096) {
    // Straight into the vector: resizing by `max` first would default-construct (and then
    // destroy) thousands of items per drain, which profiling showed as a quarter of the CPU.
    return queue_.try_dequeue_bulk(std::back_inserter(out), max);
  }

 private:
  void rearm() {
    io_uring_prep_read(ring_->sqe(this), fd_, &counter_, sizeof counter_, 0);
  }
  void on_complete(int res, uint32_t) override {
    // Clear before draining: a producer that pushes after this point will write the eventfd
    // again, so no item can be left behind without a wakeup.
    wake_pending_.exchange(false, std::memory_order_acq_rel);
    rearm();
  }

  moodycamel::ConcurrentQueue<T> queue_;
  int fd_;
  Ring* ring_ = nullptr;
  uint64_t counter_ = 0;
  std::atomic<bool> wake_pending_{false};
};

}  // namespace ringpost::engine
