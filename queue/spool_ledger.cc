// See spool_ledger.h.
#include "queue/spool_ledger.h"

#include <algorithm>

namespace ringpost::queue {

void SpoolLedger::add_segment(uint32_t seq, uint64_t bytes, int64_t now_ms) {
  if (!segments_.empty() && segments_.rbegin()->first < seq && segments_.rbegin()->second.sealed_at_ms < 0)
    segments_.rbegin()->second.sealed_at_ms = now_ms;
  segments_[seq].bytes += bytes;
}

void SpoolLedger::add_bytes(uint32_t seq, uint64_t n) {
  if (auto it = segments_.find(seq); it != segments_.end()) it->second.bytes += n;
}

void SpoolLedger::accepted(uint32_t seq, bool live) {
  auto it = segments_.find(seq);
  if (it == segments_.end()) return;
  ++it->second.accepts;
  if (live) ++it->second.live;
}

void SpoolLedger::finished(uint32_t seq) {
  if (auto it = segments_.find(seq); it != segments_.end() && it->second.live > 0) --it->second.live;
}

void SpoolLedger::moved(uint32_t from, uint32_t to, uint64_t n) {
  auto f = segments_.find(from);
  auto t = segments_.find(to);
  if (f == segments_.end() || t == segments_.end()) return;
  n = std::min(n, f->second.live);
  f->second.live -= n;
  t->second.live += n;
  t->second.accepts += n;
}

void SpoolLedger::remove(uint32_t seq) { segments_.erase(seq); }

void SpoolLedger::clear_live(uint32_t seq) {
  if (auto it = segments_.find(seq); it != segments_.end()) it->second.live = 0;
}

std::optional<uint32_t> SpoolLedger::oldest() const {
  if (segments_.empty()) return std::nullopt;
  return segments_.begin()->first;
}

SpoolLedger::Action SpoolLedger::next_action(int64_t now_ms, int64_t compact_after_ms, double compact_fraction) const {
  if (segments_.size() < 2) return Action::none;  // the only segment is the active one
  const Segment& s = segments_.begin()->second;
  if (s.live == 0) return Action::delete_oldest;
  if (static_cast<double>(s.live) <= compact_fraction * static_cast<double>(s.accepts) &&
      now_ms - s.sealed_at_ms >= compact_after_ms)
    return Action::compact_oldest;
  return Action::none;
}

uint64_t SpoolLedger::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [seq, s] : segments_) n += s.bytes;
  return n;
}

uint64_t SpoolLedger::total_live() const {
  uint64_t n = 0;
  for (const auto& [seq, s] : segments_) n += s.live;
  return n;
}

const SpoolLedger::Segment* SpoolLedger::find(uint32_t seq) const {
  auto it = segments_.find(seq);
  return it == segments_.end() ? nullptr : &it->second;
}

}  // namespace ringpost::queue
