// See idle_memory.h.
#include "engine/runtime/idle_memory.h"

#include <cstdlib>
#include <system_error>
#include <thread>
#include <vector>

namespace ringpost::engine {

namespace {
// glibc's tcache on x86-64: one list per chunk size from 32 to 1,040 bytes in 16-byte steps (a
// request of n bytes is a chunk of n + 8 rounded up to 16), 7 chunks per list by default
// (glibc.malloc.tcache_count can raise it: a larger count leaves the rest cached).
constexpr std::size_t kChunkMin = 32;
constexpr std::size_t kChunkMax = 1040;
constexpr std::size_t kChunkStep = 16;
constexpr std::size_t kChunkOverhead = 8;
constexpr int kCachedPerSize = 7;
}  // namespace

void release_thread_cache() {
  std::vector<void*> taken;
  taken.reserve((kChunkMax - kChunkMin) / kChunkStep * kCachedPerSize + kCachedPerSize);
  // malloc serves each size from this thread's cache first: these take every cached chunk.
  for (std::size_t chunk = kChunkMin; chunk <= kChunkMax; chunk += kChunkStep)
    for (int i = 0; i < kCachedPerSize; ++i) taken.push_back(std::malloc(chunk - kChunkOverhead));
  // Freed on another thread, they fill that thread's cache, which its exit hands back to the
  // arenas the chunks came from (free chunks there, coalesced and trimmable).
  try {
    std::thread([&taken] {
      for (void* p : taken) std::free(p);
    }).join();
  } catch (const std::system_error&) {
    // No thread to be had (RLIMIT_NPROC, memory): give them back here; they refill this
    // thread's cache, which is where they were. Nothing is lost but the release.
    for (void* p : taken) std::free(p);
  }
}

void trim_heap() {
  release_thread_cache();
  malloc_trim(0);
}

}  // namespace ringpost::engine
