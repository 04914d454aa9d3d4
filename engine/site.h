// One delivery site on one shard: the connection pool, queue and limits shared by every domain
// whose route leads to the same MX host set (or static route). Owned by the shard that owns
// hash(site key); no other thread ever sees it, which is why none of this needs a lock.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/config.h"
#include "engine/route.h"
#include "engine/smtp_connection.h"
#include "queue/retry_policy.h"

namespace ringpost::engine {

class Shard;

class Site {
 public:
  // The policy is the one of the domain that first routed here: with rollup, sibling domains
  // share the site's limits.
  Site(Shard& shard, RoutePtr route, const DeliveryPolicy& policy);
  ~Site();

  void enqueue(Delivery d) { queue_.push_back(std::move(d)); }
  // A fresher answer for the same site (e.g. the TTL ran out): new connections use it.
  void update_route(RoutePtr route);
  // Hands queued mail to ready connections and opens new ones within the policy's limits.
  void pump(int64_t now);
  // Every I/O completion on one of our connections lands here.
  void on_connection_event(SmtpConnection& conn);
  void tick(int64_t now);
  // Frees connections that are closed and have no SQE in flight.
  void reap();

  const std::string& key() const { return route_->site; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t connection_count() const { return conns_.size(); }

 private:
  const Endpoint* pick_endpoint(int64_t now);
  void open_connection(const Endpoint& ep, int64_t now);
  void on_connect_failure(SmtpConnection& conn, int64_t now);
  void collect_results(SmtpConnection& conn, int64_t now);
  void feed(SmtpConnection& conn, int64_t now);
  void defer_queue(const smtp::Reply& why, int64_t now);
  // Bodies of deliveries that waited for a retry or came back from recovery are read from the
  // spool when a connection could take them, a bounded number at a time, so a backlog of
  // millions is read back at the pace the site consumes it instead of all at once.
  struct BodyLoad;
  void start_load(Delivery d);
  void on_body_loaded(BodyLoad& load, int res);
  std::size_t max_loads() const;

  Shard& shard_;
  RoutePtr route_;
  const DeliveryPolicy& policy_;
  queue::RetryPolicy retry_;
  std::deque<Delivery> queue_;
  std::vector<std::unique_ptr<SmtpConnection>> conns_;
  // Parallel to route_->endpoints: an endpoint that refused or failed before EHLO is skipped
  // until then, so the next MX host (or address) is tried within the same attempt.
  std::vector<int64_t> down_until_;
  smtp::Reply last_failure_;
  std::size_t next_in_group_ = 0;
  std::unordered_set<std::string> plain_fallback_;  // endpoints whose TLS handshake failed
  bool needs_reap_ = false;
  std::vector<std::unique_ptr<BodyLoad>> loads_;
};

}  // namespace ringpost::engine
