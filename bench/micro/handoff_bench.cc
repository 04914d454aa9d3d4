// Handing items from one thread to another through engine::Mailbox (a moodycamel
// ConcurrentQueue; shards -> front for DeliveryEvent, front -> shards for jobs), against the
// obvious alternative measured in the same run: a std::deque under a std::mutex with the same
// push / drain(out, max) contract.
//   BM_QueueHandoff/<queue>/item:<u64|event>   throughput: the producer (the benchmark thread)
//                                              pushes batches of 1,024 items, at most one batch
//                                              ahead of a consumer thread that drains in a
//                                              spin-then-yield loop; real time per item drained
//   BM_MailboxRingWake/item:event/burst:64     the engine's real path: the consumer sleeps in
//                                              Ring::run_once on the mailbox's eventfd, the
//                                              producer pushes 64 and calls notify() once; one
//                                              iteration = one wakeup round trip
//   BM_QueuePushDrain/<queue>/item:event/items:N  one thread, push N then drain: the fixed
//                                              cost of a drain() call, without contention. A
//                                              drain whose cost follows `max` instead of the
//                                              items shows here at once (before 7cefbe2,
//                                              Mailbox::drain resized by 4096: 54 us per call)
// The two-thread benchmarks pin the producer and the consumer to the first two allowed CPUs, so
// every item crosses cores (as between a shard and the front), and repeat 5 times.
// item:event is an engine::DeliveryEvent as a shard reports a delivery (its reply text is on
// the heap, so the producer allocates and the consumer frees, as in the engine); item:u64 is
// the queue alone.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/micro/micro.h"
#include "engine/delivery/delivery_job.h"
#include "engine/runtime/mailbox.h"
#include "engine/runtime/ring.h"

namespace ringpost::bench {
namespace {

using engine::DeliveryEvent;

constexpr int kPerIteration = 1024;

// The baseline: what one would write without a lock-free queue. drain() moves at most `max`
// items under the lock, like Mailbox::drain, so the consumer's batches are the same size.
template <typename T>
class MutexDeque {
 public:
  void push(T item) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(item));
  }
  std::size_t drain(std::vector<T>& out, std::size_t max = 4096) {
    std::lock_guard lock(mu_);
    const std::size_t n = std::min(max, q_.size());
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    return n;
  }

 private:
  std::mutex mu_;
  std::deque<T> q_;
};

template <typename T>
T make_item(uint64_t i);
template <>
uint64_t make_item<uint64_t>(uint64_t i) {
  return i;
}
template <>
DeliveryEvent make_item<DeliveryEvent>(uint64_t i) {
  DeliveryEvent e;
  e.recipient = static_cast<uint32_t>(i);
  e.state = queue::RecipientState::delivered;
  e.attempts = 1;
  e.reply = smtp::Reply{250, "2.0.0", "Ok: queued as 4dF3kL0Qz9x"};
  e.at_ms = kNow * 1000;
  e.site = "mx.dest.test";
  return e;
}

// What the consumer does with an item: read one field, so the move is not optimised away.
uint64_t touch(uint64_t x) { return x; }
uint64_t touch(const DeliveryEvent& e) { return e.recipient + e.reply.text.size(); }

// Producer on the first allowed CPU, consumer on the second: left to the scheduler, both
// threads sometimes share one core and every handoff waits for a time slice.
class Pinned {
 public:
  explicit Pinned(int nth) {
    ::sched_getaffinity(0, sizeof saved_, &saved_);
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &saved_)) continue;
      if (seen++ == nth) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ok_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
        return;
      }
    }
  }
  ~Pinned() {
    if (ok_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spin briefly, then yield: on a 2-core shared machine a pure spin would hold a core that other
// processes need, and the run would measure the scheduler instead of the queue.
inline void backoff(unsigned& idle) {
  if (++idle < 64) {
    cpu_relax();
  } else {
    std::this_thread::yield();
    idle = 0;
  }
}

template <typename Queue, typename T>
void BM_QueueHandoff(benchmark::State& state) {
  Queue q;
  std::atomic<uint64_t> taken{0};
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    Pinned pin(1);
    std::vector<T> out;
    uint64_t n = 0, sink = 0;
    unsigned idle = 0;
    while (!stop.load(std::memory_order_acquire)) {
      out.clear();
      const std::size_t got = q.drain(out);
      if (got == 0) {
        backoff(idle);
        continue;
      }
      idle = 0;
      for (const T& x : out) sink += touch(x);
      n += got;
      taken.store(n, std::memory_order_release);
    }
    benchmark::DoNotOptimize(sink);
  });
  Pinned pin(0);
  uint64_t sent = 0;
  for (auto _ : state) {
    // At most one earlier batch may still be in the queue: the two threads overlap (the
    // consumer drains batch k while batch k+1 is pushed), the queue stays small, and the
    // batch not yet drained when the loop ends is at most 1,024 items of the total.
    unsigned idle = 0;
    while (taken.load(std::memory_order_acquire) + kPerIteration < sent) backoff(idle);
    for (int i = 0; i < kPerIteration; ++i) q.push(make_item<T>(sent++));
  }
  const uint64_t timed = taken.load(std::memory_order_acquire);
  stop.store(true, std::memory_order_release);
  consumer.join();
  // Items drained within the timed loop, not items pushed: a throughput of the handoff.
  state.SetItemsProcessed(static_cast<int64_t>(timed));
}

void BM_MailboxRingWake(benchmark::State& state, int burst) {
  engine::Mailbox<DeliveryEvent> mb;  // outlives the consumer's ring, which holds a read on its eventfd
  std::atomic<uint64_t> taken{0};
  std::atomic<int> ready{0};  // 1 = armed, -1 = no io_uring
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    Pinned pin(1);
    std::unique_ptr<engine::Ring> ring;
    try {
      // Made on this thread: the Ring is SINGLE_ISSUER, bound to the thread that creates it.
      ring = std::make_unique<engine::Ring>(64);
    } catch (const std::exception&) {
      ready.store(-1);
      return;
    }
    mb.arm(*ring);
    ready.store(1);
    std::vector<DeliveryEvent> out;
    uint64_t n = 0, sink = 0;
    while (!stop.load(std::memory_order_acquire)) {
      ring->run_once(100);
      out.clear();
      while (const std::size_t got = mb.drain(out)) {
        for (const auto& e : out) sink += touch(e);
        n += got;
        out.clear();
      }
      taken.store(n, std::memory_order_release);
    }
    benchmark::DoNotOptimize(sink);
  });
  while (ready.load() == 0) std::this_thread::yield();
  if (ready.load() < 0) {
    consumer.join();
    return state.SkipWithError("io_uring unavailable");
  }
  Pinned pin(0);
  uint64_t sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < burst; ++i) mb.push(make_item<DeliveryEvent>(sent++));
    mb.notify();
    unsigned idle = 0;
    while (taken.load(std::memory_order_acquire) < sent) backoff(idle);
  }
  stop.store(true, std::memory_order_release);
  mb.notify();
  consumer.join();
  state.SetItemsProcessed(static_cast<int64_t>(sent));
}

template <typename Queue>
void BM_QueuePushDrain(benchmark::State& state, int items) {
  Queue q;
  std::vector<DeliveryEvent> out;
  for (auto _ : state) {
    for (int i = 0; i < items; ++i) q.push(make_item<DeliveryEvent>(i));
    out.clear();
    benchmark::DoNotOptimize(q.drain(out));
  }
  state.SetItemsProcessed(state.iterations() * items);
}

}  // namespace

void register_handoff() {
  using engine::Mailbox;
  // Repeated, and run.sh reports the median and the spread: two threads on a shared 2-core
  // machine are at the scheduler's mercy, and a mutex whose holder is preempted puts the other
  // side to sleep in futex, so single runs of the baseline are bimodal.
  constexpr int kRepetitions = 5;
  auto handoff = [](const char* name, auto fn) {
    benchmark::RegisterBenchmark(name, fn)->UseRealTime()->Repetitions(kRepetitions);
  };
  handoff("BM_QueueHandoff/mailbox/item:u64", BM_QueueHandoff<Mailbox<uint64_t>, uint64_t>);
  handoff("BM_QueueHandoff/mutex_deque/item:u64", BM_QueueHandoff<MutexDeque<uint64_t>, uint64_t>);
  handoff("BM_QueueHandoff/mailbox/item:event", BM_QueueHandoff<Mailbox<DeliveryEvent>, DeliveryEvent>);
  handoff("BM_QueueHandoff/mutex_deque/item:event", BM_QueueHandoff<MutexDeque<DeliveryEvent>, DeliveryEvent>);
  benchmark::RegisterBenchmark("BM_MailboxRingWake/item:event/burst:64", BM_MailboxRingWake, 64)
      ->UseRealTime()
      ->Repetitions(kRepetitions);
  for (int items : {1, 64}) {
    benchmark::RegisterBenchmark(fmt::format("BM_QueuePushDrain/mailbox/item:event/items:{}", items).c_str(),
                                 BM_QueuePushDrain<Mailbox<DeliveryEvent>>, items);
    benchmark::RegisterBenchmark(fmt::format("BM_QueuePushDrain/mutex_deque/item:event/items:{}", items).c_str(),
                                 BM_QueuePushDrain<MutexDeque<DeliveryEvent>>, items);
  }
}

}  // namespace ringpost::bench
