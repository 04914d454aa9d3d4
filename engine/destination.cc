// See destination.h. Failure scope follows Postfix's qmgr: a recipient's own reply affects only
// that recipient; a connection that never got as far as EHLO while no sibling connection works
// is a site failure, and the whole queue for the site is deferred instead of being retried
// connection by connection.
#include "engine/destination.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "engine/shard.h"

namespace ringpost::engine {
namespace {
// A new connection is worth opening for every this many queued messages: one message should
// not open twenty connections, ten thousand should open all that the policy allows.
constexpr std::size_t kQueuedPerNewConnection = 10;
}  // namespace

Destination::Destination(Shard& shard, std::string domain, const DeliveryPolicy& policy)
    : shard_(shard), domain_(std::move(domain)), policy_(policy), retry_(policy.retry, policy.max_age) {}

bool Destination::resolve_route(int64_t now) {
  if (!endpoints_.empty()) return true;
  std::string host;
  uint16_t port = policy_.mx_port;
  if (policy_.route) {
    host = policy_.route->host;
    port = policy_.route->port;
  } else if (domain_.size() > 2 && domain_.front() == '[' && domain_.back() == ']') {
    host = domain_.substr(1, domain_.size() - 2);  // address literal, RFC 5321 §4.1.3
    if (host.rfind("IPv6:", 0) == 0 || host.rfind("ipv6:", 0) == 0) host = host.substr(5);
  } else {
    return shard_.resolve_mx(*this, now);
  }
  if (host == "localhost") host = "127.0.0.1";
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.len = sizeof(sockaddr_in6);
  } else {
    return shard_.resolve_mx(*this, now);
  }
  ep.host = policy_.route ? policy_.route->host : host;
  ep.label = fmt::format("{}:{}", host, port);
  endpoints_.push_back(std::move(ep));
  return true;
}

void Destination::set_endpoints(std::vector<Endpoint> eps) {
  endpoints_ = std::move(eps);
  shard_.mark_dirty(*this);
}

void Destination::fail_route(const smtp::Reply& why, int64_t now) {
  if (why.is_permanent()) {
    while (!queue_.empty()) {
      Delivery d = std::move(queue_.front());
      queue_.pop_front();
      for (const RecipientRef& r : d.recipients)
        shard_.report(d.msg, r.index, queue::RecipientState::bounced, r.attempts + 1, why);
    }
  } else {
    defer_queue(why, now);
  }
}

void Destination::pump(int64_t now) {
  if (queue_.empty()) return;
  if (!resolve_route(now)) return;
  for (auto& c : conns_) {
    if (queue_.empty()) break;
    if (c->ready()) feed(*c, now);
  }
  if (queue_.empty() || now < backoff_until_ms_) return;
  std::size_t live = 0, opening = 0;
  for (auto& c : conns_) {
    if (c->closed()) continue;
    ++live;
    if (!c->ever_ready()) ++opening;
  }
  while (live < policy_.max_connections && opening * kQueuedPerNewConnection < queue_.size()) {
    open_connection(now);
    ++live;
    ++opening;
  }
}

void Destination::open_connection(int64_t now) {
  const Endpoint& ep = endpoints_[next_endpoint_++ % endpoints_.size()];
  smtp::SessionConfig cfg;
  cfg.ehlo_name = shard_.hostname();
  cfg.use_chunking = policy_.chunking;
  cfg.peer_name = ep.label;
  TlsProfile tls;
  switch (policy_.tls) {
    case TlsPolicy::off: cfg.tls = smtp::TlsMode::off; break;
    case TlsPolicy::opportunistic:
      // A failed handshake with this endpoint: go on in plain text, as RFC 7435 allows.
      cfg.tls = plain_fallback_.count(ep.label) ? smtp::TlsMode::off : smtp::TlsMode::opportunistic;
      break;
    case TlsPolicy::required:
    case TlsPolicy::verify: cfg.tls = smtp::TlsMode::required; break;
  }
  if (cfg.tls != smtp::TlsMode::off) tls = shard_.tls_profile(policy_);
  conns_.push_back(std::make_unique<SmtpConnection>(shard_.ring(), *this, ep, std::move(cfg), policy_.timeouts,
                                                    policy_.idle_timeout.count(), tls));
  shard_.counters().connections_opened.fetch_add(1, std::memory_order_relaxed);
  conns_.back()->start(now);
}

void Destination::on_connection_event(SmtpConnection& conn) {
  int64_t now = shard_.now();
  collect_results(conn, now);
  if (conn.closed()) {
    if (conn.tls_handshake_failed() && policy_.tls == TlsPolicy::opportunistic &&
        !plain_fallback_.count(conn.endpoint().label)) {
      // Not a site failure: the next connection to this endpoint goes without TLS.
      plain_fallback_.insert(conn.endpoint().label);
      needs_reap_ = true;
      shard_.mark_dirty(*this);
      return;
    }
    if (!conn.ever_ready()) {
      bool sibling_works = false;
      for (auto& c : conns_)
        if (c.get() != &conn && !c->closed() && c->ever_ready()) sibling_works = true;
      if (!sibling_works && !queue_.empty()) {
        defer_queue(conn.failure().code ? conn.failure() : conn.session().failure_reply(), now);
        // Endpoints may have changed (e.g. MX answer); look them up again on the next attempt.
        endpoints_.clear();
      }
    }
    needs_reap_ = true;
  } else if (conn.ready()) {
    feed(conn, now);
  }
  shard_.mark_dirty(*this);
}

void Destination::feed(SmtpConnection& conn, int64_t now) {
  // A loop, not one send: the session refuses some envelopes locally (SIZE, SMTPUTF8, line
  // length) without a byte on the wire, and is ready again at once.
  while (conn.ready()) {
    if (conn.transactions() >= policy_.max_msgs_per_connection) return conn.quit(now);
    if (queue_.empty()) return conn.mark_idle(now);
    conn.send(std::move(queue_.front()), now);
    queue_.pop_front();
    collect_results(conn, now);
  }
}

void Destination::collect_results(SmtpConnection& conn, int64_t now) {
  for (smtp::TransactionResult& tr : conn.session().take_results()) {
    std::optional<Delivery> d = conn.take_current();
    if (!d) continue;
    shard_.counters().transactions.fetch_add(1, std::memory_order_relaxed);
    Delivery again{d->msg, {}};
    int64_t again_at = 0;
    for (std::size_t i = 0; i < d->recipients.size() && i < tr.recipients.size(); ++i) {
      const RecipientRef& r = d->recipients[i];
      const smtp::RecipientResult& res = tr.recipients[i];
      uint32_t attempts = r.attempts + 1;
      switch (res.outcome) {
        case smtp::Outcome::delivered:
          shard_.report(d->msg, r.index, queue::RecipientState::delivered, attempts, res.reply);
          break;
        case smtp::Outcome::bounced:
          shard_.report(d->msg, r.index, queue::RecipientState::bounced, attempts, res.reply);
          break;
        case smtp::Outcome::deferred: {
          auto at = retry_.next_attempt_at_ms(attempts, d->msg->created_at_ms, now);
          if (!at) {
            shard_.report(d->msg, r.index, queue::RecipientState::expired, attempts, res.reply);
          } else {
            shard_.report(d->msg, r.index, queue::RecipientState::deferred, attempts, res.reply);
            again.recipients.push_back({r.index, attempts});
            again_at = *at;
          }
          break;
        }
      }
    }
    if (!again.recipients.empty()) shard_.schedule_retry(std::move(again), again_at);
  }
}

void Destination::defer_queue(const smtp::Reply& why, int64_t now) {
  while (!queue_.empty()) {
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    Delivery again{d.msg, {}};
    int64_t again_at = 0;
    for (const RecipientRef& r : d.recipients) {
      uint32_t attempts = r.attempts + 1;
      auto at = retry_.next_attempt_at_ms(attempts, d.msg->created_at_ms, now);
      if (!at) {
        shard_.report(d.msg, r.index, queue::RecipientState::expired, attempts, why);
      } else {
        shard_.report(d.msg, r.index, queue::RecipientState::deferred, attempts, why);
        again.recipients.push_back({r.index, attempts});
        again_at = *at;
      }
    }
    if (!again.recipients.empty()) shard_.schedule_retry(std::move(again), again_at);
  }
}

void Destination::tick(int64_t now) {
  for (auto& c : conns_) c->tick(now);
}

void Destination::reap() {
  if (!needs_reap_) return;
  needs_reap_ = false;
  std::erase_if(conns_, [](const std::unique_ptr<SmtpConnection>& c) { return c->closed() && c->idle(); });
  for (auto& c : conns_)
    if (c->closed()) needs_reap_ = true;  // still has an SQE in flight; try again later
}

}  // namespace ringpost::engine
