// The front's side of GET /metrics (docs/metrics.md): counters the front keeps itself (messages
// accepted per API key; recipient outcomes per site and per key, from the DeliveryEvents it
// already applies; latency histograms), and the page rendered from those plus every shard's
// ShardMetrics. Front thread only; the shards' numbers are read with relaxed loads, no lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/delivery/delivery_job.h"
#include "engine/ops/metrics/histogram.h"
#include "engine/ops/metrics/ring_stats.h"
#include "engine/ops/metrics/site_labels.h"

namespace ringpost::engine {

class Shard;

class FrontMetrics {
 public:
  explicit FrontMetrics(std::size_t site_limit);

  // The front ring's own busy time and submissions.
  RingStats& ring() { return ring_; }

  // A request's messages are durable and the 202 is being sent. request_complete_ns: steady_ns()
  // when the request's last byte was parsed (0: unknown, no latency observed).
  void accepted(const std::string& owner, const std::vector<std::shared_ptr<SpooledMessage>>& msgs,
                int64_t request_complete_ns);
  // Every DeliveryEvent the front applies; owner is the message's API key name ("" without keys).
  void on_event(const DeliveryEvent& e, const std::string& owner);
  // One group commit's write + fdatasync, from submission to completion.
  void spool_synced(int64_t ns) { spool_sync_.observe(static_cast<double>(ns) / 1e9); }

  // A documented bound refused or evicted something (docs/security.md): `limit` is its config
  // key, e.g. "status_max_messages", "auth_failures_per_minute". Counted in
  // ringpost_limit_hits_total{limit}. The set of names is fixed by the code, so it is bounded.
  void limit_hit(std::string_view limit, uint64_t n = 1) { limit_hits_[std::string(limit)] += n; }
  uint64_t limit_hits(std::string_view limit) const {
    auto it = limit_hits_.find(std::string(limit));
    return it == limit_hits_.end() ? 0 : it->second;
  }

  // HTTP connection bounds (docs/security.md "Connections"): the most bytes one connection has
  // held unparsed (input) or unsent (output) since start-up, so a test or an operator can see
  // that max_request_bytes / max_output_bytes held; and the connections open now.
  void note_conn_input(std::size_t bytes) { if (bytes > input_peak_) input_peak_ = bytes; }
  void note_conn_output(std::size_t bytes) { if (bytes > output_peak_) output_peak_ = bytes; }
  void set_open_connections(std::size_t n) { open_connections_ = n; }

  // queue_depth: recipients accepted and not final; spool_bytes: bytes in the spool's segments.
  std::string render(const std::vector<Shard*>& shards, uint64_t queue_depth, uint64_t spool_bytes);

 private:
  static constexpr std::size_t kOutcomes = 4;  // delivered, deferred, bounced, expired
  using Outcomes = std::array<uint64_t, kOutcomes>;
  struct KeyCounts {
    uint64_t messages = 0, recipients = 0;
    Outcomes outcomes{};
  };

  SiteLabels labels_;
  RingStats ring_;
  std::map<std::string, Outcomes> by_site_;  // by site label; std::map for a stable page order
  std::map<std::string, KeyCounts> by_key_;
  std::map<std::string, uint64_t> limit_hits_;
  std::size_t input_peak_ = 0, output_peak_ = 0, open_connections_ = 0;
  Histogram submit_latency_{Histogram::request_bounds()};
  Histogram delivery_latency_{Histogram::delivery_bounds()};
  Histogram spool_sync_{Histogram::request_bounds()};
};

}  // namespace ringpost::engine
