// See front_metrics.h. Every family is written even when it has no sample yet, so a scraper
// (and a person) sees the full list from the first scrape on.
#include "engine/ops/metrics/front_metrics.h"

#include <algorithm>

#include "engine/ops/metrics/exposition.h"
#include "engine/delivery/shard.h"

namespace ringpost::engine {
namespace {

const std::string kNone = "none";  // the label for "no key" and "no site reached"
constexpr std::array<const char*, 4> kOutcomeNames = {"delivered", "deferred", "bounced", "expired"};
constexpr std::array<const char*, smtp::ReplyTally::kClasses> kClassNames = {"2xx", "3xx", "4xx", "5xx"};

// Index into Outcomes, or -1 for a state that is not an attempt's outcome (queued).
int outcome_index(queue::RecipientState s) {
  using S = queue::RecipientState;
  switch (s) {
    case S::delivered: return 0;
    case S::deferred: return 1;
    case S::bounced: return 2;
    case S::expired: return 3;
    default: return -1;
  }
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// A shard's per-site numbers, summed per front label.
struct SiteAgg {
  uint64_t opened = 0, failed = 0, queued = 0, open = 0, fallbacks = 0;
  std::array<uint64_t, smtp::ReplyTally::kClasses> replies{};
  void add(const SiteSlot& s) {
    opened += s.connections_opened.get();
    failed += s.connections_failed.get();
    fallbacks += s.tls_fallbacks.get();
    queued += s.queued.get();
    open += s.connections_open.get();
    for (std::size_t i = 0; i < replies.size(); ++i) replies[i] += s.replies[i].get();
  }
};

}  // namespace

FrontMetrics::FrontMetrics(std::size_t site_limit) : labels_(site_limit) {}

void FrontMetrics::accepted(const std::string& owner, const std::vector<std::shared_ptr<SpooledMessage>>& msgs,
                            int64_t request_complete_ns) {
  KeyCounts& k = by_key_[owner.empty() ? kNone : owner];
  k.messages += msgs.size();
  for (const auto& m : msgs) k.recipients += m->recipients.size();
  if (request_complete_ns > 0)
    submit_latency_.observe(static_cast<double>(std::max<int64_t>(0, steady_ns() - request_complete_ns)) / 1e9);
}

void FrontMetrics::on_event(const DeliveryEvent& e, const std::string& owner) {
  const int i = outcome_index(e.state);
  if (i < 0) return;
  // An empty site: no route was reached (the lookup failed, or an operator bounced the mail
  // before it was routed).
  ++by_site_[e.site.empty() ? kNone : labels_.label(e.site)][static_cast<std::size_t>(i)];
  ++by_key_[owner.empty() ? kNone : owner].outcomes[static_cast<std::size_t>(i)];
  if (e.state == queue::RecipientState::delivered) {
    // A scheduled message's clock starts at its send time: waiting for it is not latency.
    const int64_t from = std::max(e.msg->created_at_ms, e.msg->send_at_ms);
    delivery_latency_.observe(static_cast<double>(std::max<int64_t>(0, e.at_ms - from)) / 1e3);
  }
}

std::string FrontMetrics::render(const std::vector<Shard*>& shards, uint64_t queue_depth, uint64_t spool_bytes) {
  Exposition x;

  x.family("ringpost_messages_accepted_total", "counter", "Messages accepted (answered 202), by API key.");
  for (const auto& [key, k] : by_key_) x.sample("ringpost_messages_accepted_total", {{"key", key}}, k.messages);
  x.family("ringpost_recipients_accepted_total", "counter", "Recipients of accepted messages, by API key.");
  for (const auto& [key, k] : by_key_) x.sample("ringpost_recipients_accepted_total", {{"key", key}}, k.recipients);

  x.family("ringpost_recipient_outcomes_total", "counter",
           "Recipient delivery attempts by outcome (delivered, deferred, bounced, expired) and destination site.");
  for (const auto& [site, o] : by_site_)
    for (std::size_t i = 0; i < kOutcomes; ++i)
      x.sample("ringpost_recipient_outcomes_total", {{"site", site}, {"outcome", kOutcomeNames[i]}}, o[i]);
  x.family("ringpost_key_recipient_outcomes_total", "counter",
           "Recipient delivery attempts by outcome and by the API key that submitted the message.");
  for (const auto& [key, k] : by_key_)
    for (std::size_t i = 0; i < kOutcomes; ++i)
      x.sample("ringpost_key_recipient_outcomes_total", {{"key", key}, {"outcome", kOutcomeNames[i]}}, k.outcomes[i]);

  x.family("ringpost_queue_depth", "gauge", "Recipients accepted and not yet in a final state.");
  x.sample("ringpost_queue_depth", {}, queue_depth);

  // The shards' per-site slots, mapped to the front's labels so every family shares one set
  // of site names and one cap.
  std::map<std::string, SiteAgg> sites;
  for (Shard* s : shards) {
    const ShardMetrics& m = s->metrics();
    const std::size_t n = m.named();
    for (std::size_t i = 0; i < n; ++i) sites[labels_.label(m.name(i))].add(m.slot(i));
    sites[SiteLabels::kOther].add(m.other());
  }
  x.family("ringpost_site_queue_depth", "gauge", "Deliveries waiting in a site's queue for a connection.");
  for (const auto& [site, a] : sites) x.sample("ringpost_site_queue_depth", {{"site", site}}, a.queued);
  x.family("ringpost_connections_open", "gauge", "SMTP connections open, by site.");
  for (const auto& [site, a] : sites) x.sample("ringpost_connections_open", {{"site", site}}, a.open);
  x.family("ringpost_connections_opened_total", "counter", "SMTP connections opened, by site.");
  for (const auto& [site, a] : sites) x.sample("ringpost_connections_opened_total", {{"site", site}}, a.opened);
  x.family("ringpost_connections_failed_total", "counter",
           "SMTP connections that closed before they could carry mail (refused, timed out, bad greeting, TLS), by site.");
  for (const auto& [site, a] : sites) x.sample("ringpost_connections_failed_total", {{"site", site}}, a.failed);
  x.family("ringpost_tls_fallbacks_total", "counter",
           "SMTP connections opened in plain text because the endpoint's opportunistic STARTTLS failed shortly before, by site.");
  for (const auto& [site, a] : sites) x.sample("ringpost_tls_fallbacks_total", {{"site", site}}, a.fallbacks);
  x.family("ringpost_smtp_replies_total", "counter", "SMTP replies received from servers, by code class and site.");
  for (const auto& [site, a] : sites)
    for (std::size_t i = 0; i < a.replies.size(); ++i)
      x.sample("ringpost_smtp_replies_total", {{"site", site}, {"class", kClassNames[i]}}, a.replies[i]);

  x.family("ringpost_submit_latency_seconds", "histogram",
           "From a submit request's last byte to its 202 answer (spool write and fdatasync included).");
  x.histogram("ringpost_submit_latency_seconds", {}, submit_latency_);
  x.family("ringpost_delivery_latency_seconds", "histogram",
           "From acceptance (or a scheduled send time) to the recipient's delivery.");
  x.histogram("ringpost_delivery_latency_seconds", {}, delivery_latency_);
  x.family("ringpost_spool_bytes", "gauge", "Bytes in the spool's segment files.");
  x.sample("ringpost_spool_bytes", {}, spool_bytes);
  x.family("ringpost_spool_sync_seconds", "histogram",
           "One group commit: the spool write and its linked fdatasync, from submission to completion.");
  x.histogram("ringpost_spool_sync_seconds", {}, spool_sync_);

  x.family("ringpost_shard_busy_seconds_total", "counter",
           "Time a shard's loop spent working rather than waiting in io_uring; rate() is its utilization.");
  for (std::size_t i = 0; i < shards.size(); ++i)
    x.sample("ringpost_shard_busy_seconds_total", {{"shard", std::to_string(i)}},
             seconds(shards[i]->metrics().ring.busy_ns.get()));
  x.family("ringpost_shard_io_uring_submissions_total", "counter", "io_uring submission queue entries submitted, by shard.");
  for (std::size_t i = 0; i < shards.size(); ++i)
    x.sample("ringpost_shard_io_uring_submissions_total", {{"shard", std::to_string(i)}},
             shards[i]->metrics().ring.sqes.get());
  x.family("ringpost_limit_hits_total", "counter",
           "Times a documented bound refused a request or evicted stored state, by its config key (docs/security.md).");
  for (const auto& [limit, n] : limit_hits_) x.sample("ringpost_limit_hits_total", {{"limit", limit}}, n);
  uint64_t dns_waited = 0;
  for (Shard* s : shards) dns_waited += s->metrics().dns_lookups_waited.get();
  x.sample("ringpost_limit_hits_total", {{"limit", "max_lookups_in_flight"}}, dns_waited);
  x.family("ringpost_http_connections", "gauge", "HTTP client connections open now.");
  x.sample("ringpost_http_connections", {}, open_connections_);
  x.family("ringpost_http_connection_input_peak_bytes", "gauge",
           "Most request bytes one HTTP connection held unparsed plus a request body buffered, since start-up "
           "(bounded by [server] max_request_bytes plus one 16 KiB receive).");
  x.sample("ringpost_http_connection_input_peak_bytes", {}, input_peak_);
  x.family("ringpost_http_connection_output_peak_bytes", "gauge",
           "Most response bytes one HTTP connection held unsent, since start-up (bounded by [server] "
           "max_output_bytes plus one response).");
  x.sample("ringpost_http_connection_output_peak_bytes", {}, output_peak_);
  x.family("ringpost_front_busy_seconds_total", "counter", "Time the HTTP front's loop spent working rather than waiting.");
  x.sample("ringpost_front_busy_seconds_total", {}, seconds(ring_.busy_ns.get()));
  x.family("ringpost_front_io_uring_submissions_total", "counter", "io_uring submission queue entries submitted by the front.");
  x.sample("ringpost_front_io_uring_submissions_total", {}, ring_.sqes.get());
  return x.take();
}

}  // namespace ringpost::engine
