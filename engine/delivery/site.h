// One delivery site on one shard: the connection pool, queue and limits shared by every domain
// whose route leads to the same MX host set (or static route). Owned by the shard that owns
// hash(site key); no other thread ever sees it, which is why none of this needs a lock.
#pragma once

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/config/config.h"
#include "engine/delivery/destination_limiter.h"
#include "engine/delivery/live_policy.h"
#include "engine/ops/metrics/shard_metrics.h"
#include "engine/delivery/route.h"
#include "engine/delivery/site_host.h"
#include "engine/delivery/smtp_connection.h"
#include "engine/runtime/timer_heap.h"
#include "queue/retry_policy.h"

namespace ringpost::engine {

// The shard's key for the site that carries `p`'s domain over a route: the route's site (its
// MX host set or static route), plus the TLS requirement unless it is the default
// (opportunistic): "mx:10=mx.dest.test tls=required". Domains share a site, and so its
// connections, only when they ask the same of TLS.
std::string site_key(const std::string& route_site, const DeliveryPolicy& p);

class Site {
 public:
  // `policy` is the first domain's (policy_domain) until the shard calls set_policy(live), which
  // takes the strictest limits of every domain routed here (docs/shaping.md "Rollup").
  // `key`: site_key(route->site, policy), the shard's name for this site. `host`: its shard
  // (site_host.h), which outlives it.
  Site(SiteHost& host, RoutePtr route, std::string key, std::string policy_domain, const DeliveryPolicy& policy,
       int64_t now);
  ~Site();

  // A delivery of an operator-suspended domain waits aside (held_); one arriving while the
  // site is suspended by a rule waits in the queue; either way its recipients are reported
  // deferred with the cause and the suspension's end (Shard::report_hold).
  void enqueue(Delivery d);
  // Nothing queued or loading, no connection, no rule's suspension or throttle and no
  // operator's suspension in force, and so for policy site_idle_evict: the shard may drop it.
  bool evictable(int64_t now);
  // The limits changed (SIGHUP, an operator's throttle, a new domain on the site): the
  // strictest of the domains' limits, and each domain's operator suspension, from now on. A
  // domain newly suspended has its queued mail set aside (held_) and reported once; one
  // resumed goes back to the queue.
  void set_policy(const LivePolicy& live, int64_t now);
  const std::string& policy_domain() const { return policy_domain_; }
  // The earliest end of an operator's suspension of one of its domains, 0 when none: the site
  // must be pumped then, so its held mail goes back to the queue (a timer, or the tick).
  int64_t next_hold_end() const {
    int64_t t = 0;
    for (const auto& [d, until] : domain_suspended_until_) t = t == 0 ? until : std::min(t, until);
    return t;
  }
  // True when the domain is new here (then the shard calls set_policy again).
  bool add_domain(const std::string& domain) { return domains_.insert(domain).second; }
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
  // When the shard's tick must next visit this site although nothing happened to it: the
  // earliest connection deadline or idle timeout, the end of a rule's suspension or of an
  // operator's suspension of one of its domains, `poll_ms` from now while mail waits for
  // anything else (tokens, the connection rate, a connection to free up), or the idle-eviction
  // time once it has nothing. INT64_MAX: only an event can give it work. Every time-based thing
  // tick() and pump() do must be covered here, or it waits for the next event (Shard::visit).
  int64_t next_due_ms(int64_t now, int64_t poll_ms) const;
  // At the start of the shard's visit, before pump and reap: the eviction clock counts from
  // the last moment the site had work.
  void note_activity(int64_t now);
  TimerSlot& timer_slot() { return timer_slot_; }  // the shard's TimerHeap entry
  // The shard's "now" (its loop reads the clock once per iteration), for connections arming a
  // deadline from a completion.
  int64_t now() const;
  // What this site last added to the shard's queued total and /metrics gauges (Shard::visit).
  struct Published {
    int64_t queued = 0, connections = 0;
  };
  Published& published() { return published_; }
  // Frees connections that are closed and have no SQE in flight.
  void reap();

  const std::string& key() const { return key_; }
  std::size_t queued() const { return queue_.size() + held_count_; }
  std::size_t connection_count() const { return conns_.size(); }
  // Slow start's window: how many connections pump() may have open now (at most max_connections).
  double window() const { return window_; }
  // This site's slot in the shard's /metrics numbers (shared with other sites past the cap).
  SiteSlot& metrics() const { return metrics_; }

 private:
  const Endpoint* pick_endpoint(int64_t now);
  void open_connection(const Endpoint& ep, int64_t now);
  void on_connect_failure(SmtpConnection& conn, int64_t now);
  void collect_results(SmtpConnection& conn, int64_t now);
  void feed(SmtpConnection& conn, int64_t now);
  void defer_queue(const smtp::Reply& why, int64_t now);
  // Operators' suspensions of single domains (docs/shaping.md "Rollup"): deliveries of a
  // suspended domain leave the queue for held_ (reported once), and come back when it ends.
  void hold_domains(int64_t now);
  // Suspensions that ended (resumed, or their time ran out): their held mail goes back.
  void release_held(int64_t now);
  void release_domain(const std::string& domain, int64_t now);
  // A delivery of a domain an operator suspended goes to held_ (true), or stays with the caller.
  bool hold_if_domain_suspended(Delivery& d, int64_t now);
  // A [[rules]] suspension began or was extended: everything waiting here is reported held.
  void report_queue_held();
  // Adaptive back-off: a reply matching a rule suspends or throttles this site.
  void on_reply(const smtp::Reply& reply, int64_t now);
  void apply_rate(int64_t now);
  void count_sent(int64_t now);
  // A [[rules]] suspension of the whole site (an operator's is per domain: held_).
  bool suspended(int64_t now) const { return now < suspended_until_; }
  // Anything queued, loading, connected, suspended or throttled (evictable's "busy").
  bool has_work(int64_t now) const;
  // With no work: when it may be evicted (site_idle_evict after the last work, or after a
  // rule's suspension or throttle ended).
  int64_t evict_at_ms() const;
  // Bodies of deliveries that waited for a retry or came back from recovery are read from the
  // spool when a connection could take them, a bounded number at a time, so a backlog of
  // millions is read back at the pace the site consumes it instead of all at once.
  struct BodyLoad;
  void start_load(Delivery d);
  void on_body_loaded(BodyLoad& load, int res);
  std::size_t max_loads() const;

  SiteHost& host_;
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
  int64_t busy_at_ = 0;                // last time a visit (note_activity, evictable) found work here
  TimerSlot timer_slot_;
  Published published_;
  int64_t suspended_until_ = 0;        // by a rule
  smtp::Reply suspend_reply_;          // the reply that suspended it
  // By an operator, per domain: the suspensions in force, and the deliveries they hold (each
  // reported deferred once, with until as next_attempt_at). queue_ never holds a delivery of a
  // domain in domain_suspended_until_.
  std::map<std::string, int64_t> domain_suspended_until_;
  struct Held {
    int64_t reported_until = 0;  // the end its deliveries were reported with
    std::deque<Delivery> q;
  };
  std::map<std::string, Held> held_;
  std::size_t held_count_ = 0;
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
