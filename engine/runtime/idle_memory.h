// Giving memory back after a burst. A thread's containers keep the capacity of their largest
// moment (hash tables never shrink their buckets, vectors their storage), and glibc keeps what
// a thread freed in its arena for its next malloc. After mail to 100,000 domains that was tens
// of MiB resident for the life of the process (issue 20, defect 3; bench/soak). So each ring
// thread, once it has been quiet for a while after work, shrinks its containers and calls
// malloc_trim: never on the hot path, once per quiet period.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdint>

namespace ringpost::engine {

// How long a ring thread must be quiet before it releases: long enough that steady traffic with
// pauses between batches never pays for a release and a regrowth, short enough that memory is
// back soon after a burst.
inline constexpr int64_t kQuietReleaseMs = 2000;

// When a thread that did work has been quiet for `quiet_ms`: due() is true once, then not
// again until more work is noted. Driven by the caller's clock (unit-tested on a fake one).
class QuietRelease {
 public:
  explicit QuietRelease(int64_t quiet_ms) : quiet_ms_(quiet_ms) {}
  // `work` is any counter that moves when the thread does work (requests, events, evictions):
  // comparing it costs nothing on the hot path, unlike a call per event.
  void observe(uint64_t work, int64_t now) {
    if (work == seen_) return;
    seen_ = work;
    last_work_ms_ = now;
    owed_ = true;
  }
  bool due(int64_t now) {
    if (!owed_ || now - last_work_ms_ < quiet_ms_) return false;
    owed_ = false;
    return true;
  }

 private:
  int64_t quiet_ms_;
  uint64_t seen_ = 0;
  int64_t last_work_ms_ = 0;
  bool owed_ = false;
};

// A hash table's bucket array sized for its largest moment, shrunk when it is mostly empty.
template <typename Map>
void shrink_buckets(Map& m) {
  if (m.bucket_count() > 64 && m.size() < m.bucket_count() / 8) m.rehash(0);
}

// A buffer that is empty between uses, freed when it grew past `keep` bytes of capacity.
template <typename Buffer>
void shrink_if_empty(Buffer& b, std::size_t keep = 64 * 1024) {
  if (b.empty() && b.capacity() * sizeof(typename Buffer::value_type) > keep) Buffer().swap(b);
}

// Empties the calling thread's malloc cache (glibc's tcache: up to 7 freed chunks of each
// size up to 1 KiB, kept for this thread's next malloc and invisible to malloc_trim). Those
// chunks sit among the pages a burst freed and keep them resident: with the cache in place
// the soak's RSS after eviction stayed 1.20x the warm idle value, without it 1.06x (bench/soak,
// GLIBC_TUNABLES=glibc.malloc.tcache_count=0). glibc has no call that empties it; a thread's
// exit does. So the cached chunks are taken out with mallocs of each size and freed by a
// thread that exits at once, which gives them back to their arenas.
void release_thread_cache();

// Every arena's free pages back to the kernel (malloc_trim walks all arenas, not only the
// caller's), after this thread's malloc cache is emptied. Milliseconds for hundreds of MiB of
// heap: only from a quiet thread.
void trim_heap();

}  // namespace ringpost::engine
