// One shard's numbers for /metrics: per-site connection and reply counters, per-site gauges,
// and the ring's busy time and submissions. Written only by the shard's thread, read by the
// front while rendering, with no lock: every number is a SoloCounter/SoloGauge, and a site's
// slot name is written once, before the slot is published with a release store of the count.
//
// Cardinality: `limit` slots get a site name each (first come); one more slot, "other", takes
// every later site. Slots are never reused, so a slot's counters only ever grow.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/ops/metrics/ring_stats.h"
#include "engine/ops/metrics/solo_counter.h"
#include "smtp/reply_tally.h"

namespace ringpost::engine {

class Site;

struct SiteSlot {
  SoloCounter connections_opened;
  SoloCounter connections_failed;  // closed before the session was ready to carry mail
  SoloCounter tls_fallbacks;       // opened in plain text after an endpoint's STARTTLS failed
  std::array<SoloCounter, smtp::ReplyTally::kClasses> replies;  // by first digit, 2xx..5xx
  SoloGauge queued;            // deliveries in the site's queue, updated when a site is visited
  SoloGauge connections_open;  // updated when a site is visited

  void count_replies(const smtp::ReplyTally& t) {
    for (std::size_t i = 0; i < t.counts.size(); ++i)
      if (t.counts[i]) replies[i].add(t.counts[i]);
  }
};

class ShardMetrics {
 public:
  explicit ShardMetrics(std::size_t limit);

  // Shard thread: the slot `site` counts into (its own, or "other" once the slots are taken).
  SiteSlot& site(const std::string& key);
  // Shard thread: a site's queue and connection counts changed by these amounts since it last
  // said so (the shard calls this from each visit of a site, and with the negated counts when
  // it evicts one). Summed per slot, so a tick never walks every site to refresh gauges.
  void add_site_gauges(SiteSlot& slot, int64_t queued, int64_t open);

  // Any thread. Slots 0..named()-1 have names; other() is the overflow.
  std::size_t named() const { return named_.load(std::memory_order_acquire); }
  const std::string& name(std::size_t i) const { return names_[i]; }
  const SiteSlot& slot(std::size_t i) const { return slots_[i]; }
  const SiteSlot& other() const { return slots_[limit_]; }

  RingStats ring;
  // Lookups that waited for [dns] max_lookups_in_flight (MxResolver).
  SoloCounter dns_lookups_waited;

 private:
  std::size_t index_of(const SiteSlot& s) const { return static_cast<std::size_t>(&s - slots_.get()); }

  const std::size_t limit_;
  std::unique_ptr<SiteSlot[]> slots_;     // limit_ + 1, never reallocated: readers hold no lock
  std::unique_ptr<std::string[]> names_;  // limit_, each written once before it is published
  std::atomic<std::size_t> named_{0};
  std::unordered_map<std::string, std::size_t> index_;  // shard thread only
  std::vector<int64_t> queued_, open_;                  // per slot: the sums of what sites said
};

}  // namespace ringpost::engine
