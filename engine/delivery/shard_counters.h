// A shard's running totals for /v1/stats. Written only by the owning shard (its sites count
// connections and transactions into them), read by the front: relaxed atomics suffice.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringpost::engine {

struct ShardCounters {
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> queued{0};  // deliveries waiting in site queues, for a route or a retry
  std::atomic<uint64_t> sites{0};
  std::atomic<uint64_t> dns_lookups{0};
};

}  // namespace ringpost::engine
