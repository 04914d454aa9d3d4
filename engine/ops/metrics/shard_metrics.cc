// See shard_metrics.h.
#include "engine/ops/metrics/shard_metrics.h"

#include <algorithm>

namespace ringpost::engine {

ShardMetrics::ShardMetrics(std::size_t limit)
    : limit_(limit), slots_(std::make_unique<SiteSlot[]>(limit + 1)), names_(std::make_unique<std::string[]>(limit)),
      queued_(limit + 1), open_(limit + 1) {}

SiteSlot& ShardMetrics::site(const std::string& key) {
  if (auto it = index_.find(key); it != index_.end()) return slots_[it->second];
  const std::size_t n = named_.load(std::memory_order_relaxed);
  if (n >= limit_) return slots_[limit_];
  names_[n] = key;
  index_.emplace(key, n);
  // Release: a reader that sees the new count also sees the name written above.
  named_.store(n + 1, std::memory_order_release);
  return slots_[n];
}

void ShardMetrics::add_site_gauges(SiteSlot& slot, int64_t queued, int64_t open) {
  const std::size_t i = index_of(slot);
  queued_[i] += queued;
  open_[i] += open;
  slot.queued.set(static_cast<uint64_t>(std::max<int64_t>(0, queued_[i])));
  slot.connections_open.set(static_cast<uint64_t>(std::max<int64_t>(0, open_[i])));
}

}  // namespace ringpost::engine
