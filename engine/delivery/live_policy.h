// The limits in force right now: the config's delivery policies (replaced whole by a SIGHUP
// reload) plus operators' per-domain overrides (PUT /v1/domains/{d}/throttle, suspend). A
// LivePolicy is immutable; the PolicyBook publishes a new one and bumps a generation counter
// that shards poll on their tick, so no lock is taken on the delivery path and a change is in
// force within one tick (50 ms). Written by the front (admin API) and the main thread (SIGHUP).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/config/config.h"

namespace ringpost::engine {

// What an operator changed for one domain; unset fields leave the config's value.
struct DomainOverride {
  std::optional<double> msgs_per_second;
  std::optional<double> connections_per_second;
  std::optional<uint32_t> max_connections;
  std::optional<uint32_t> max_msgs_per_connection;
  std::optional<uint32_t> max_recipients_per_message;
  std::optional<std::chrono::milliseconds> idle_timeout;
  int64_t suspended_until_ms = 0;  // 0: not suspended by an operator
  // bounce-all: recipients of messages created at or before this are bounced wherever they
  // turn up later (a job between shards, a retry after a transaction in flight); 0 = none.
  int64_t bounce_created_before_ms = 0;
  std::string bounce_reason;
  bool empty() const;
};

struct LivePolicy {
  std::shared_ptr<const Config> config;
  std::map<std::string, DomainOverride> overrides;  // key: lower-case domain

  // The config's policy for `domain` with the operator's override applied.
  DeliveryPolicy effective(const std::string& domain) const;
  int64_t suspended_until_ms(const std::string& domain) const;
  // The one limit the front needs per message, without copying a whole policy.
  std::optional<uint32_t> max_recipients_per_message(const std::string& domain) const;
};

// The limits of a site shared by several domains (MX rollup, a shared static route): each
// limit is the strictest of the domains' (a smaller number; a set rate beats unlimited), so
// no domain's limit (or an operator's throttle of it) is ignored because another domain got
// there first. The rest (retry schedule, max_age, timeouts, TLS, chunking, eviction) stays
// `a`'s: the site's first domain. max_recipients_per_message is per domain (the front splits
// each domain's envelopes by its own value) and stays `a`'s too. docs/shaping.md "Rollup".
DeliveryPolicy strictest(DeliveryPolicy a, const DeliveryPolicy& b);

class PolicyBook {
 public:
  explicit PolicyBook(std::shared_ptr<const LivePolicy> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const LivePolicy> current() const { return current_.load(); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void publish(std::shared_ptr<const LivePolicy> next) {
    current_.store(std::move(next));
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::shared_ptr<const LivePolicy>> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace ringpost::engine
