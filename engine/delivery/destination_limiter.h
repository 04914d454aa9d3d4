// The rate budget a destination site spends: messages and new connections per second
// (docs/shaping.md). Behind an interface because nodes behind a load balancer must share one
// destination's budget: a Redis-backed limiter (a bucket per site in Redis, taken in leases of
// a few tokens so the shard's hot path stays local) goes in through Shard's
// set_destination_limiters() without the sites changing. One limiter per site, called on that
// site's shard thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "queue/token_bucket.h"

namespace ringpost::engine {

class DestinationLimiter {
 public:
  virtual ~DestinationLimiter() = default;
  // nullopt: unlimited. Set when the policy or an adaptive throttle changes.
  virtual void set_message_rate(std::optional<double> per_second, int64_t now_ms) = 0;
  virtual std::optional<double> message_rate() const = 0;
  virtual void set_connection_rate(std::optional<double> per_second, int64_t now_ms) = 0;
  // False: no budget now; the site waits for its shard's next tick.
  virtual bool take_message(int64_t now_ms) = 0;
  virtual bool take_connection(int64_t now_ms) = 0;
};

// This node's own token buckets.
class LocalDestinationLimiter final : public DestinationLimiter {
 public:
  void set_message_rate(std::optional<double> per_second, int64_t now_ms) override {
    if (per_second != messages_.rate()) messages_.set_rate(per_second, now_ms);
  }
  std::optional<double> message_rate() const override { return messages_.rate(); }
  void set_connection_rate(std::optional<double> per_second, int64_t now_ms) override {
    if (per_second != connections_.rate()) connections_.set_rate(per_second, now_ms);
  }
  bool take_message(int64_t now_ms) override { return messages_.try_take(now_ms); }
  bool take_connection(int64_t now_ms) override { return connections_.try_take(now_ms); }

 private:
  queue::TokenBucket messages_;
  queue::TokenBucket connections_;
};

// Makes the limiter for a site (its key: the site's name, e.g. "mx:mx1.example.net,..." or
// "route:127.0.0.1:2525"), so limiters on several nodes agree on what they share.
using DestinationLimiterFactory = std::function<std::unique_ptr<DestinationLimiter>(const std::string& site)>;

}  // namespace ringpost::engine
