// The quiet release (engine/runtime/idle_memory.h) on a fake clock: due once per quiet period
// after work, never while work goes on, never without work; and the shrink helpers.
#include "engine/runtime/idle_memory.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>

#include <string>
#include <unordered_map>
#include <vector>

namespace ringpost::engine {
namespace {

TEST(QuietRelease, DueOnceWhenQuietForThePeriodAfterWork) {
  QuietRelease q(2000);
  q.observe(0, 0);
  EXPECT_FALSE(q.due(10'000)) << "no work yet: nothing to give back";
  q.observe(5, 1000);
  EXPECT_FALSE(q.due(2999));
  EXPECT_TRUE(q.due(3000));
  EXPECT_FALSE(q.due(3001)) << "once per quiet period";
  q.observe(5, 9000);  // the counter did not move: still quiet
  EXPECT_FALSE(q.due(20'000));
}

TEST(QuietRelease, WorkKeepsPushingItBack) {
  QuietRelease q(2000);
  uint64_t work = 0;
  for (int64_t t = 0; t < 10'000; t += 500) {
    q.observe(++work, t);
    EXPECT_FALSE(q.due(t)) << "at " << t << " ms, with work every 500 ms";
  }
  EXPECT_FALSE(q.due(11'499));
  EXPECT_TRUE(q.due(11'500)) << "2 s after the last work (at 9,500 ms)";
}

TEST(ShrinkBuckets, AMostlyEmptyTableShrinksAndAFullOneDoesNot) {
  std::unordered_map<int, int> m;
  for (int i = 0; i < 100'000; ++i) m[i] = i;
  const std::size_t full = m.bucket_count();
  shrink_buckets(m);
  EXPECT_EQ(m.bucket_count(), full) << "in use: left alone";
  for (int i = 10; i < 100'000; ++i) m.erase(i);
  shrink_buckets(m);
  EXPECT_LT(m.bucket_count(), 100u);
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m.at(7), 7);
}

TEST(ShrinkIfEmpty, FreesABigEmptyBufferOnly) {
  std::vector<char> big(1 << 20);
  shrink_if_empty(big);
  EXPECT_EQ(big.capacity(), 1u << 20) << "not empty: kept";
  big.clear();
  shrink_if_empty(big);
  EXPECT_EQ(big.capacity(), 0u);
  std::string small;
  small.reserve(1000);
  small.clear();
  const std::size_t cap = small.capacity();
  shrink_if_empty(small);
  EXPECT_EQ(small.capacity(), cap) << "under the 64 KiB kept: not worth a regrowth";
}

// Chunks this thread freed sit in its malloc cache, counted as in use by the arenas (and so
// out of malloc_trim's reach); once released they are free chunks of their arena.
TEST(ReleaseThreadCache, ChunksCachedByThisThreadBecomeFreeInTheirArena) {
  release_thread_cache();  // the first call's helper thread sets up an arena, reused after
  constexpr int kPerSize = 7;  // what glibc's cache keeps per size
  std::vector<void*> chunks;
  std::size_t bytes = 0;
  for (std::size_t size = 100; size <= 1000; size += 100)
    for (int i = 0; i < kPerSize; ++i) {
      chunks.push_back(std::malloc(size));
      bytes += size;
    }
  for (void* p : chunks) std::free(p);
  chunks = {};
  const std::size_t cached = mallinfo2().uordblks;
  release_thread_cache();
  const std::size_t released = mallinfo2().uordblks;
  EXPECT_LE(released + bytes, cached) << "in use before " << cached << ", after " << released << "; cached " << bytes;
}

}  // namespace
}  // namespace ringpost::engine
