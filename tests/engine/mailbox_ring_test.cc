// Mailbox + Ring: producers push in bursts and notify(); the consumer, on its own thread with
// its own Ring, loops run_once + drain. Checks delivery (all items, in order per producer) and
// the wakeup itself: a burst pushed at an idle consumer must end its run_once with a completion,
// not leave it to the timeout. Counted in loop iterations, never measured in wall time.
// (Checked by mutation: with notify() not writing the eventfd, or the wake flag never cleared,
// the one-producer test fails.)
#include "engine/runtime/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/ring.h"

namespace ringpost::engine {
namespace {

struct Item {
  uint32_t producer = 0;
  uint32_t seq = 0;
};

// Null (with the reason) when io_uring cannot be set up here: seccomp, old kernel, sysctl.
std::unique_ptr<Ring> try_make_ring(std::string& why, unsigned entries = 64) {
  try {
    return std::make_unique<Ring>(entries);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
}

#define SKIP_WITHOUT_IO_URING()                                              \
  do {                                                                       \
    std::string why_;                                                        \
    if (!try_make_ring(why_)) GTEST_SKIP() << "io_uring unavailable: " << why_; \
  } while (0)

// Deterministic burst sizes 1..kMaxBurst, so a failure reproduces.
uint32_t next_burst(uint32_t& state, uint32_t max_burst) {
  state = state * 1664525u + 1013904223u;
  return 1 + (state >> 8) % max_burst;
}

TEST(MailboxRing, ItemsNotifiedBeforeArmAreDelivered) {
  std::string why;
  auto ring = try_make_ring(why);
  if (!ring) GTEST_SKIP() << "io_uring unavailable: " << why;
  Mailbox<int> mb;
  for (int i = 0; i < 3; ++i) mb.push(i);
  mb.notify();
  mb.arm(*ring);
  unsigned woken = 0;
  for (int i = 0; i < 10 && woken == 0; ++i) woken = ring->run_once(1000);
  EXPECT_EQ(woken, 1u);
  std::vector<int> out;
  EXPECT_EQ(mb.drain(out), 3u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

TEST(MailboxRing, IdleMailboxProducesNoCompletions) {
  // The eventfd is non-blocking; if the armed read completed at once with -EAGAIN instead of
  // waiting, every loop iteration would wake with a completion and the thread would spin.
  std::string why;
  auto ring = try_make_ring(why);
  if (!ring) GTEST_SKIP() << "io_uring unavailable: " << why;
  Mailbox<int> mb;
  mb.arm(*ring);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ring->run_once(10), 0u) << "iteration " << i;

  // ...and it still wakes for a notify afterwards, exactly once, and then is idle again.
  mb.push(42);
  mb.notify();
  mb.notify();  // a second notify before the consumer ran needs no second wakeup
  unsigned woken = 0;
  for (int i = 0; i < 10 && woken == 0; ++i) woken = ring->run_once(1000);
  EXPECT_EQ(woken, 1u);
  std::vector<int> out;
  EXPECT_EQ(mb.drain(out), 1u);
  EXPECT_EQ(ring->run_once(10), 0u);
}

TEST(MailboxRing, ManyNotifyCyclesOnOneThread) {
  std::string why;
  auto ring = try_make_ring(why);
  if (!ring) GTEST_SKIP() << "io_uring unavailable: " << why;
  Mailbox<int> mb;
  mb.arm(*ring);
  std::vector<int> out;
  for (int cycle = 0; cycle < 1000; ++cycle) {
    mb.push(cycle);
    mb.notify();
    ASSERT_EQ(ring->run_once(1000), 1u) << "cycle " << cycle << " did not wake the ring";
    out.clear();
    ASSERT_EQ(mb.drain(out), 1u);
    ASSERT_EQ(out[0], cycle);
  }
}

struct ConsumerResult {
  std::string failure;             // order violation or unexpected producer id
  uint64_t received = 0;
  uint64_t bursts = 0;             // notify() calls made by the producers
  uint64_t iterations = 0;
  uint64_t timed_out_with_items = 0;  // run_once ended by its timeout, yet drain found items
};

// Producer p pushes items {p, 0..per_producer-1} in bursts of 1..max_burst, calling notify()
// after each burst. With lock_step, a producer starts a burst only once the consumer holds every
// earlier item, so each burst lands while the consumer is idle (asleep in the ring or about to
// be) and only the eventfd wakeup can end that sleep early.
ConsumerResult run_producers(uint32_t producers, uint32_t per_producer, uint32_t max_burst, bool lock_step,
                             std::string& skip_reason) {
  // A lost wakeup costs one 50 ms timeout per burst; give up after this many instead of hanging.
  constexpr uint64_t kGiveUpAfterTimeouts = 40;
  Mailbox<Item> mb;
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> bursts{0};
  std::atomic<bool> consumer_done{false};
  std::atomic<bool> producers_done{false};
  const uint64_t total = uint64_t{producers} * per_producer;
  ConsumerResult res;

  std::promise<std::string> ready;
  std::future<std::string> ready_f = ready.get_future();
  std::thread consumer([&] {
    // The Ring is created on the thread that uses it (IORING_SETUP_SINGLE_ISSUER).
    std::string why;
    std::unique_ptr<Ring> ring = try_make_ring(why, 256);
    if (!ring) {
      ready.set_value(why.empty() ? "io_uring unavailable" : why);
      return;
    }
    mb.arm(*ring);
    ready.set_value("");

    std::vector<uint32_t> next(producers, 0);
    std::vector<Item> batch;
    uint64_t iterations_after_done = 0;
    while (res.received < total && res.failure.empty()) {
      ++res.iterations;
      const bool timed_out = ring->run_once(50) == 0;
      uint64_t drained = 0;
      for (;;) {
        batch.clear();
        if (mb.drain(batch) == 0) break;
        drained += batch.size();
        for (const Item& it : batch) {
          if (it.producer >= producers) {
            res.failure = "unknown producer " + std::to_string(it.producer);
            break;
          }
          if (it.seq != next[it.producer]) {
            res.failure = "producer " + std::to_string(it.producer) + ": got seq " + std::to_string(it.seq) +
                          ", expected " + std::to_string(next[it.producer]);
            break;
          }
          ++next[it.producer];
          ++res.received;
        }
      }
      received.store(res.received, std::memory_order_release);
      if (timed_out && drained > 0 && ++res.timed_out_with_items >= kGiveUpAfterTimeouts) {
        res.failure = "wakeups are being lost; gave up";
      }
      if (producers_done.load(std::memory_order_acquire) && ++iterations_after_done > 200) break;
    }
    consumer_done.store(true, std::memory_order_release);
  });

  skip_reason = ready_f.get();
  if (!skip_reason.empty()) {
    consumer.join();
    return res;
  }

  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      uint32_t rng = 12345 + p;
      uint32_t seq = 0;
      while (seq < per_producer) {
        if (lock_step) {
          while (received.load(std::memory_order_acquire) < pushed.load(std::memory_order_relaxed)) {
            if (consumer_done.load(std::memory_order_acquire)) return;
            std::this_thread::yield();
          }
        }
        uint32_t n = std::min(next_burst(rng, max_burst), per_producer - seq);
        for (uint32_t i = 0; i < n; ++i) mb.push(Item{p, seq++});
        pushed.fetch_add(n, std::memory_order_relaxed);
        mb.notify();
        bursts.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  producers_done.store(true, std::memory_order_release);
  consumer.join();
  res.bursts = bursts.load();
  return res;
}

TEST(MailboxRing, OneProducerHundredThousandItemsInOrderWithPromptWakeups) {
  SKIP_WITHOUT_IO_URING();
  std::string skip;
  ConsumerResult r = run_producers(1, 100'000, 200, /*lock_step=*/true, skip);
  if (!skip.empty()) GTEST_SKIP() << "io_uring unavailable on the consumer thread: " << skip;
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.received, 100'000u);
  // Each burst lands on an idle consumer. A working wakeup ends its run_once with the eventfd
  // completion; a lost one leaves it to the 50 ms timeout, after which drain finds the burst.
  // Counted in iterations, with slack only for a producer descheduled in mid-burst.
  EXPECT_GE(r.bursts, 500u);
  EXPECT_LE(r.timed_out_with_items, 2u) << r.bursts << " bursts, " << r.iterations << " iterations";
  EXPECT_LE(r.iterations, 2 * r.bursts + 2) << "about one loop iteration per burst";
}

TEST(MailboxRing, FourProducersAllItemsInOrderPerProducer) {
  // Free-running producers, so pushes race with drains and with the consumer's flag reset.
  // Wakeup latency is not asserted here: a producer that finds the wake flag already set skips
  // its write and relies on the flag-setter's write, which a descheduled thread can delay.
  SKIP_WITHOUT_IO_URING();
  std::string skip;
  ConsumerResult r = run_producers(4, 25'000, 300, /*lock_step=*/false, skip);
  if (!skip.empty()) GTEST_SKIP() << "io_uring unavailable on the consumer thread: " << skip;
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.received, 100'000u);
}

}  // namespace
}  // namespace ringpost::engine
