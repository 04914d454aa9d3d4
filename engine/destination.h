// One destination domain on one shard: its queue of deliveries waiting for a connection, its
// pool of SMTP connections, and the policy that bounds them. Owned by the shard thread; no
// other thread ever sees it, which is why none of this needs a lock.
#pragma once

#include <deque>
#include <unordered_set>
#include <memory>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/smtp_connection.h"
#include "queue/retry_policy.h"

namespace ringpost::engine {

class Shard;

class Destination {
 public:
  Destination(Shard& shard, std::string domain, const DeliveryPolicy& policy);

  void enqueue(Delivery d) { queue_.push_back(std::move(d)); }
  // Hands queued mail to ready connections and opens new ones within the policy's limits.
  void pump(int64_t now);
  // Every I/O completion on one of our connections lands here.
  void on_connection_event(SmtpConnection& conn);
  void tick(int64_t now);
  // Route answers from the resolver (MX lookup) for destinations without a static route.
  void set_endpoints(std::vector<Endpoint> eps);
  void fail_route(const smtp::Reply& why, int64_t now);
  // Frees connections that are closed and have no SQE in flight.
  void reap();

  const std::string& domain() const { return domain_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t connection_count() const { return conns_.size(); }
  bool idle() const { return queue_.empty() && conns_.empty(); }

 private:
  bool resolve_route(int64_t now);
  void open_connection(int64_t now);
  void collect_results(SmtpConnection& conn, int64_t now);
  void feed(SmtpConnection& conn, int64_t now);
  void defer_queue(const smtp::Reply& why, int64_t now);

  Shard& shard_;
  std::string domain_;
  const DeliveryPolicy& policy_;
  queue::RetryPolicy retry_;
  std::deque<Delivery> queue_;
  std::vector<std::unique_ptr<SmtpConnection>> conns_;
  std::vector<Endpoint> endpoints_;
  std::size_t next_endpoint_ = 0;
  std::unordered_set<std::string> plain_fallback_;  // endpoints whose TLS handshake failed
  int64_t backoff_until_ms_ = 0;
  bool needs_reap_ = false;
};

}  // namespace ringpost::engine
