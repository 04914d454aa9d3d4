// Which spool segments still hold something owed, and what to do about the oldest one. Pure
// bookkeeping, no I/O, owned by the thread that writes the spool (the HTTP front).
//
// Segments are only ever deleted oldest first. That is what makes deletion safe without
// rewriting anything: a message's OUTCOME records always come after its ACCEPT, so once every
// message whose ACCEPT is in the oldest segment is finished (or copied forward into the active
// segment with its current state), nothing in that segment is needed by anyone, and the
// OUTCOMEs of its messages found in later segments are ignored by recovery as orphans. A
// segment that still holds a few unfinished messages (a long deferral) would pin every younger
// segment, so it is compacted: its live messages are copied forward, then it is deleted.
// docs/spool.md "Reclaim".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace ringpost::queue {

class SpoolLedger {
 public:
  struct Segment {
    uint64_t bytes = 0;
    uint64_t accepts = 0;  // messages whose ACCEPT (or copy) is here
    uint64_t live = 0;     // of those, not finished yet
    int64_t sealed_at_ms = -1;  // when a newer segment took over (-1: still the active one)
  };
  enum class Action { none, delete_oldest, compact_oldest };

  // Segments are added in creation order (increasing seq); the newest is the active one, and
  // adding one seals the previous at now_ms.
  void add_segment(uint32_t seq, uint64_t bytes = 0, int64_t now_ms = 0);
  void add_bytes(uint32_t seq, uint64_t n);
  void accepted(uint32_t seq, bool live);
  void finished(uint32_t seq);
  // n live messages copied from one segment to another (compaction).
  void moved(uint32_t from, uint32_t to, uint64_t n);
  void remove(uint32_t seq);
  // The front found none of this segment's messages unfinished: trust that over the count.
  void clear_live(uint32_t seq);

  // What to do with the oldest segment now: delete it when nothing in it is live; compact it
  // when only a few are (live ≤ compact_fraction of its accepts) and it was sealed at least
  // compact_after_ms ago, so messages merely in flight are not copied; never touch the
  // active one.
  Action next_action(int64_t now_ms, int64_t compact_after_ms = 5000, double compact_fraction = 0.1) const;
  std::optional<uint32_t> oldest() const;
  uint32_t active() const { return segments_.empty() ? 0 : segments_.rbegin()->first; }

  std::size_t segment_count() const { return segments_.size(); }
  uint64_t total_bytes() const;
  uint64_t total_live() const;
  const Segment* find(uint32_t seq) const;

 private:
  std::map<uint32_t, Segment> segments_;
};

}  // namespace ringpost::queue
