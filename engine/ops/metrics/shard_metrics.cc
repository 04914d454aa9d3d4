// See shard_metrics.h.
#include "engine/ops/metrics/shard_metrics.h"

#include "engine/delivery/site.h"

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

void ShardMetrics::publish_gauges(const std::unordered_map<std::string, std::unique_ptr<Site>>& sites) {
  std::fill(queued_.begin(), queued_.end(), 0);
  std::fill(open_.begin(), open_.end(), 0);
  for (const auto& [key, s] : sites) {
    const std::size_t i = index_of(s->metrics());
    queued_[i] += s->queued();
    open_[i] += s->connection_count();
  }
  for (std::size_t i = 0; i <= limit_; ++i) {
    slots_[i].queued.set(queued_[i]);
    slots_[i].connections_open.set(open_[i]);
  }
}

}  // namespace ringpost::engine
