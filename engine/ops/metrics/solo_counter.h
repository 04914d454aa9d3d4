// A number written by exactly one thread (a shard, or the front) and read by any other (the
// front rendering /metrics). With one writer, an increment need not be atomic as a whole: a
// relaxed load and a relaxed store compile to plain moves, where fetch_add would be a locked
// instruction on every delivery. Readers see some recent value, never a torn one.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringpost::engine {

class SoloCounter {
 public:
  // Writer thread only.
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // Any thread.
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class SoloGauge {
 public:
  void set(uint64_t v) { v_.store(v, std::memory_order_relaxed); }  // writer thread only
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace ringpost::engine
