// One delivery site on one shard: the connection pool, queue and limits shared by every domain
// whose route leads to the same MX host set (or static route). Owned by the shard that owns
// hash(site key); no other thread ever sees it, which is why none of this needs a lock.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/config/config.h"
#include "engine/delivery/destination_limiter.h"
#include "engine/ops/metrics/shard_metrics.h"
#include "engine/delivery/route.h"
#include "engine/delivery/smtp_connection.h"
#include "queue/retry_policy.h"

namespace ringpost::engine {

class Shard;

// The shard's key for the site that carries `p`'s domain over a route: the route's site (its
// MX host set or static route), plus the TLS requirement unless it is the default
// (opportunistic): "mx:10=mx.dest.test tls=required". Domains share a site, and so its
// connections, only when they ask the same of TLS.
std::string site_key(const std::string& route_site, const DeliveryPolicy& p);

class Site {
 public:
  // The policy is the one of the domain that first routed here (policy_domain): with rollup,
  // sibling domains share the site's limits.
  // `key`: site_key(route->site, policy), the shard's name for this site.
  Site(Shard& shard, RoutePtr route, std::string key, std::string policy_domain, const DeliveryPolicy& policy,
       int64_t now);
  ~Site();

  void enqueue(Delivery d) { queue_.push_back(std::move(d)); }
  // Nothing queued or loading, no connection, no rule's suspension or throttle and no
  // operator's suspension in force, and so for policy site_idle_evict: the shard may drop it.
  bool evictable(int64_t now);
  // The limits changed (SIGHUP, or an operator's throttle/suspend): in force from now on.
  void set_policy(const DeliveryPolicy& policy, int64_t admin_suspended_until_ms, int64_t now);
  const std::string& policy_domain() const { return policy_domain_; }
  void add_domain(const std::string& domain) { domains_.insert(domain); }
  const std::set<std::string>& domains() const { return domains_; }
  // Administrative bounce: every queued delivery for `domain` is reported bounced.
  std::size_t bounce_domain(const std::string& domain, const smtp::Reply& why);

  // What GET /v1/domains shows.
  struct Snapshot {
    std::string site;
    std::vector<std::string> domains;
    std::size_t queued = 0, in_flight = 0, connections = 0;
    double measured_msgs_per_second = 0;
    DeliveryPolicy limits;
    int64_t suspended_until_ms = 0, throttled_until_ms = 0;
    double throttle_msgs_per_second = 0;
    smtp::Reply last_error;
    int64_t last_error_at_ms = 0;
  };
  Snapshot snapshot(int64_t now) const;
  // A fresher answer for the same site (e.g. the TTL ran out): new connections use it.
  void update_route(RoutePtr route);
  // Hands queued mail to ready connections and opens new ones within the policy's limits.
  void pump(int64_t now);
  // Every I/O completion on one of our connections lands here.
  void on_connection_event(SmtpConnection& conn);
  void tick(int64_t now);
  // Frees connections that are closed and have no SQE in flight.
  void reap();

  const std::string& key() const { return key_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t connection_count() const { return conns_.size(); }
  // This site's slot in the shard's /metrics numbers (shared with other sites past the cap).
  SiteSlot& metrics() const { return metrics_; }

 private:
  const Endpoint* pick_endpoint(int64_t now);
  void open_connection(const Endpoint& ep, int64_t now);
  void on_connect_failure(SmtpConnection& conn, int64_t now);
  void collect_results(SmtpConnection& conn, int64_t now);
  void feed(SmtpConnection& conn, int64_t now);
  void defer_queue(const smtp::Reply& why, int64_t now);
  // Adaptive back-off: a reply matching a rule suspends or throttles this site.
  void on_reply(const smtp::Reply& reply, int64_t now);
  void apply_rate(int64_t now);
  void count_sent(int64_t now);
  bool suspended(int64_t now) const { return now < suspended_until_ || now < admin_suspended_until_; }
  // Bodies of deliveries that waited for a retry or came back from recovery are read from the
  // spool when a connection could take them, a bounded number at a time, so a backlog of
  // millions is read back at the pace the site consumes it instead of all at once.
  struct BodyLoad;
  void start_load(Delivery d);
  void on_body_loaded(BodyLoad& load, int res);
  std::size_t max_loads() const;

  Shard& shard_;
  RoutePtr route_;
  std::string key_;  // site_key(); declared after route_, before metrics_ (initialized in this order)
  SiteSlot& metrics_;
  std::string policy_domain_;
  std::set<std::string> domains_;
  DeliveryPolicy policy_;
  queue::RetryPolicy retry_;
  std::unique_ptr<DestinationLimiter> rates_;  // msgs_per_second, connections_per_second, throttles
  // Slow start (Postfix's destination concurrency window): grows by one per delivered
  // transaction up to max_connections, halves on a 421 or a failed connection.
  double window_ = 1;
  int64_t busy_at_ = 0;                // last time evictable() found work here
  int64_t suspended_until_ = 0;        // by a rule
  int64_t admin_suspended_until_ = 0;  // by an operator
  int64_t throttled_until_ = 0;
  double throttle_rate_ = 0;
  smtp::Reply last_error_;
  int64_t last_error_at_ = 0;
  // Messages sent per second over the last 10 s, for the measured rate.
  std::array<uint32_t, 10> sent_per_second_{};
  int64_t sent_second_ = 0;
  std::deque<Delivery> queue_;
  std::vector<std::unique_ptr<SmtpConnection>> conns_;
  // Parallel to route_->endpoints: an endpoint that refused or failed before EHLO is skipped
  // until then, so the next MX host (or address) is tried within the same attempt.
  std::vector<int64_t> down_until_;
  smtp::Reply last_failure_;
  std::size_t next_in_group_ = 0;
  // Endpoints whose opportunistic STARTTLS handshake failed, and until when their connections
  // go in plain text (the next retry delay, at most an hour); then TLS is tried again.
  std::unordered_map<std::string, int64_t> plain_fallback_until_;
  bool needs_reap_ = false;
  std::vector<std::unique_ptr<BodyLoad>> loads_;
};

}  // namespace ringpost::engine
