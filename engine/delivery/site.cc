// See site.h. Failure scope follows Postfix's qmgr: a recipient's own reply affects only that
// recipient; a connection that fails before EHLO marks its endpoint down and the next endpoint
// (next MX by preference, next address) is tried at once; only when every endpoint is down and
// no sibling connection works is it a site failure, and the whole queue is deferred instead of
// being retried connection by connection.
#include "engine/delivery/site.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/delivery/shard_counters.h"

namespace ringpost::engine {
namespace {
// A new connection is worth opening for every this many queued messages: one message should
// not open twenty connections, ten thousand should open all that the policy allows.
constexpr std::size_t kQueuedPerNewConnection = 10;

// What a recipient held by an operator's suspension of its domain shows as its last reply.
smtp::Reply held_by_operator(const std::string& domain) {
  return smtp::Reply{451, "4.3.0", fmt::format("held: delivery to {} is suspended by an operator", domain)};
}
}  // namespace

struct Site::BodyLoad : Completion {
  Site* site;
  Delivery delivery;
  std::shared_ptr<const BodyRef> at;  // keeps the segment's fd open until the read is done
  std::string buf;
  void on_complete(int res, uint32_t) override { site->on_body_loaded(*this, res); }
};

Site::~Site() = default;

std::string site_key(const std::string& route_site, const DeliveryPolicy& p) {
  switch (p.tls) {
    case TlsPolicy::opportunistic: return route_site;  // the default keeps the plain key
    case TlsPolicy::off: return route_site + " tls=off";
    case TlsPolicy::required: return route_site + " tls=required";
    case TlsPolicy::verify:
      return p.tls_ca_file.empty() ? route_site + " tls=verify" : fmt::format("{} tls=verify:{}", route_site, p.tls_ca_file);
  }
  return route_site;
}

Site::Site(SiteHost& host, RoutePtr route, std::string key, std::string policy_domain, const DeliveryPolicy& policy,
           int64_t now)
    : host_(host), route_(std::move(route)), key_(std::move(key)), metrics_(host.metrics().site(route_->site)),
      policy_domain_(std::move(policy_domain)), policy_(policy),
      retry_(policy.retry, policy.max_age), rates_(host.make_destination_limiter(route_->site)) {
  down_until_.assign(route_->endpoints.size(), 0);
  domains_.insert(policy_domain_);
  window_ = std::min<double>(policy_.initial_connections, policy_.max_connections);
  apply_rate(now);
  rates_->set_connection_rate(policy_.connections_per_second, now);
}

void Site::set_policy(const LivePolicy& live, int64_t now) {
  // Rollup: the strictest limits of every domain here, so a limit or throttle of any of them is
  // in force for the connections and rate they share (docs/shaping.md "Rollup").
  policy_ = live.effective(policy_domain_);
  for (const std::string& d : domains_)
    if (d != policy_domain_) policy_ = strictest(std::move(policy_), live.effective(d));
  retry_ = queue::RetryPolicy(policy_.retry, policy_.max_age);
  window_ = std::min<double>(window_, policy_.max_connections);
  apply_rate(now);
  rates_->set_connection_rate(policy_.connections_per_second, now);
  std::map<std::string, int64_t> suspensions;
  for (const std::string& d : domains_)
    if (const int64_t until = live.suspended_until_ms(d); until > now) suspensions[d] = until;
  // Every publish (any domain's change, a SIGHUP) comes here; the queue is walked only when
  // this site's suspensions changed.
  if (suspensions == domain_suspended_until_) return;
  domain_suspended_until_ = std::move(suspensions);
  hold_domains(now);
}

void Site::enqueue(Delivery d) {
  const int64_t now = host_.now();
  if (hold_if_domain_suspended(d, now)) return;
  if (suspended(now)) host_.report_hold(d, suspend_reply_, suspended_until_, key());
  queue_.push_back(std::move(d));
}

bool Site::hold_if_domain_suspended(Delivery& d, int64_t now) {
  if (domain_suspended_until_.empty()) return false;
  const std::string domain = queue::domain_of(d.msg->recipients[d.recipients.front().index]);
  auto it = domain_suspended_until_.find(domain);
  if (it == domain_suspended_until_.end() || it->second <= now) return false;
  host_.report_hold(d, held_by_operator(domain), it->second, key());
  d.body.reset();  // waiting costs the envelope only, as in the retry heap
  Held& h = held_[domain];
  h.reported_until = it->second;
  h.q.push_back(std::move(d));
  ++held_count_;
  return true;
}

void Site::hold_domains(int64_t now) {
  release_held(now);
  if (domain_suspended_until_.empty()) return;
  // A suspension whose end moved (suspended again with another `for`): its held mail is
  // reported again with the new end.
  for (auto& [domain, h] : held_) {
    const int64_t until = domain_suspended_until_.at(domain);
    if (h.reported_until == until) continue;
    h.reported_until = until;
    for (const Delivery& d : h.q) host_.report_hold(d, held_by_operator(domain), until, key());
  }
  // Newly suspended: one walk of the queue, once per change of the suspensions, not per tick.
  std::deque<Delivery> keep;
  for (Delivery& d : queue_)
    if (!hold_if_domain_suspended(d, now)) keep.push_back(std::move(d));
  queue_.swap(keep);
}

void Site::release_held(int64_t now) {
  std::erase_if(domain_suspended_until_, [&](const auto& kv) { return kv.second <= now; });
  for (auto it = held_.begin(); it != held_.end();) {
    const std::string domain = (it++)->first;  // release_domain erases that entry, not `it`
    if (!domain_suspended_until_.count(domain)) release_domain(domain, now);
  }
}

void Site::release_domain(const std::string& domain, int64_t now) {
  auto it = held_.find(domain);
  if (it == held_.end()) return;
  std::deque<Delivery> q = std::move(it->second.q);
  held_.erase(it);
  held_count_ -= q.size();
  for (Delivery& d : q) {
    // Resumed while a rule suspends the whole site: they wait for that, and say so.
    if (suspended(now)) host_.report_hold(d, suspend_reply_, suspended_until_, key());
    queue_.push_back(std::move(d));
  }
  host_.mark_dirty(*this);
}

void Site::report_queue_held() {
  for (const Delivery& d : queue_) host_.report_hold(d, suspend_reply_, suspended_until_, key());
  for (const auto& load : loads_) host_.report_hold(load->delivery, suspend_reply_, suspended_until_, key());
}

void Site::apply_rate(int64_t now) {
  std::optional<double> rate = policy_.msgs_per_second;
  if (now < throttled_until_) rate = rate ? std::min(*rate, throttle_rate_) : throttle_rate_;
  rates_->set_message_rate(rate, now);
}

void Site::on_reply(const smtp::Reply& reply, int64_t now) {
  if (reply.code < 400) return;
  last_error_ = reply;
  last_error_at_ = now;
  if (reply.code == 421) window_ = std::max(1.0, window_ / 2);
  // The first matching rule decides; it sees the first kRuleMatchBytes of the reply only.
  const ResponseRule* rule = host_.rules().first_match(reply.code, reply.enhanced, reply.text);
  if (!rule) return;
  const std::string line =
      fmt::format("{} {} {}", reply.code, reply.enhanced, std::string_view(reply.text).substr(0, kRuleMatchBytes));
  // Logged when it starts, not again for the same reply seen twice (a 421 greeting comes here
  // from the connect-failure path and from the session's reply) or for one that extends it.
  if (rule->action == RuleAction::suspend) {
    const bool starts = suspended_until_ <= now;
    const int64_t until = std::max(suspended_until_, now + rule->duration.count());
    if (starts)
      spdlog::warn("site {}: suspended for {} ms: '{}' matched rule '{}'", key(), rule->duration.count(), line, rule->match);
    // Everything waiting here shows deferred with this reply and the suspension's end, once
    // per suspension (or per extension, at most once per reply that matched), not per tick.
    if (until != suspended_until_) {
      suspended_until_ = until;
      suspend_reply_ = reply;
      report_queue_held();
    }
  } else {
    const bool starts = throttled_until_ <= now;
    throttled_until_ = std::max(throttled_until_, now + rule->duration.count());
    throttle_rate_ = rule->msgs_per_second;
    apply_rate(now);
    if (starts)
      spdlog::warn("site {}: throttled to {} for {} ms: '{}' matched rule '{}'", key(),
                   queue::format_rate(rule->msgs_per_second), rule->duration.count(), line, rule->match);
  }
}

void Site::count_sent(int64_t now) {
  const int64_t second = now / 1000;
  if (second != sent_second_) {
    for (int64_t s = sent_second_ + 1; s <= second && s <= sent_second_ + 10; ++s) sent_per_second_[s % 10] = 0;
    sent_second_ = second;
  }
  ++sent_per_second_[second % 10];
}

Site::Snapshot Site::snapshot(int64_t now) const {
  Snapshot s;
  s.site = key();
  s.domains.assign(domains_.begin(), domains_.end());
  s.queued = queue_.size() + loads_.size() + held_count_;
  for (const auto& c : conns_) {
    if (c->closed()) continue;
    ++s.connections;
    if (c->busy()) ++s.in_flight;
  }
  // The last ten whole seconds (the current one is still filling).
  const int64_t second = now / 1000;
  uint64_t sum = 0;
  for (int64_t k = second - 10; k < second; ++k)
    if (k > sent_second_ - 10 && k <= sent_second_) sum += sent_per_second_[k % 10];
  s.measured_msgs_per_second = static_cast<double>(sum) / 10.0;
  s.limits = policy_;
  // The rule's suspension of the whole site; an operator's is per domain (the front adds it).
  s.suspended_until_ms = suspended_until_ > now ? suspended_until_ : 0;
  s.throttled_until_ms = throttled_until_ > now ? throttled_until_ : 0;
  s.throttle_msgs_per_second = throttle_rate_;
  s.last_error = last_error_;
  s.last_error_at_ms = last_error_at_;
  return s;
}

std::size_t Site::bounce_domain(const std::string& domain, const smtp::Reply& why) {
  std::size_t n = 0;
  std::deque<Delivery> keep;
  for (Delivery& d : queue_) {
    if (queue::domain_of(d.msg->recipients[d.recipients.front().index]) != domain) {
      keep.push_back(std::move(d));
      continue;
    }
    for (const RecipientRef& r : d.recipients) {
      host_.report(d.msg, r.index, queue::RecipientState::bounced, r.attempts, why, key());
      ++n;
    }
  }
  queue_.swap(keep);
  if (auto it = held_.find(domain); it != held_.end()) {
    for (const Delivery& d : it->second.q)
      for (const RecipientRef& r : d.recipients) {
        host_.report(d.msg, r.index, queue::RecipientState::bounced, r.attempts, why, key());
        ++n;
      }
    held_count_ -= it->second.q.size();
    held_.erase(it);
  }
  return n;
}

void Site::update_route(RoutePtr route) {
  if (route == route_ || route->expires_ms < route_->expires_ms) return;
  // Sibling domains of a rollup site each bring their own (equal) route: keep which endpoints
  // are resting, or every switch would retry a refusing host at once.
  std::unordered_map<std::string, int64_t> resting;
  for (std::size_t i = 0; i < route_->endpoints.size(); ++i) resting[route_->endpoints[i].label] = down_until_[i];
  route_ = std::move(route);
  down_until_.assign(route_->endpoints.size(), 0);
  for (std::size_t i = 0; i < route_->endpoints.size(); ++i)
    if (auto it = resting.find(route_->endpoints[i].label); it != resting.end()) down_until_[i] = it->second;
  // An address the new answer no longer lists: its connections finish the transaction they
  // carry and quit (feed), so traffic moves with DNS instead of riding the pool for as long
  // as the server keeps the connection open (issue 20).
  for (auto& c : conns_) {
    const std::string& label = c->endpoint().label;
    const bool listed = std::any_of(route_->endpoints.begin(), route_->endpoints.end(),
                                    [&](const Endpoint& e) { return e.label == label; });
    if (!listed) c->mark_stale();
  }
}

const Endpoint* Site::pick_endpoint(int64_t now) {
  // The best preference group with a usable endpoint, and within it the next one in turn:
  // RFC 5321 §5.1 wants load spread over equal-preference hosts, connection by connection.
  const auto& eps = route_->endpoints;
  std::size_t first = eps.size();
  for (std::size_t i = 0; i < eps.size(); ++i)
    if (down_until_[i] <= now) {
      first = i;
      break;
    }
  if (first == eps.size()) return nullptr;
  // One endpoint per host: its first usable address, so the address-family order holds.
  std::vector<std::size_t> group;
  for (std::size_t i = first; i < eps.size() && eps[i].preference == eps[first].preference; ++i) {
    if (down_until_[i] > now) continue;
    bool host_seen = std::any_of(group.begin(), group.end(), [&](std::size_t g) { return eps[g].host == eps[i].host; });
    if (!host_seen) group.push_back(i);
  }
  return &eps[group[next_in_group_++ % group.size()]];
}

void Site::pump(int64_t now) {
  if (host_.draining()) {
    // A connection not yet ready (connecting, greeting, EHLO, TLS) carries no mail: waiting
    // for it could use the whole drain (a silent server's greeting timeout is minutes).
    for (auto& c : conns_)
      if (c->ready()) c->quit(now);
      else if (!c->ever_ready() && !c->closed()) c->close();
    return;
  }
  // An operator's suspension of a domain that ran out (`for`/`until`) ends here; resume and
  // SIGHUP end theirs through set_policy.
  if (!domain_suspended_until_.empty()) release_held(now);
  if (queue_.empty()) return;
  if (now < throttled_until_ || throttle_rate_ > 0) apply_rate(now);  // a throttle may have run out
  // Suspended: queued mail waits here; idle connections stay idle (and time out).
  if (suspended(now)) return;
  for (auto& c : conns_) {
    if (queue_.empty()) break;
    if (c->ready()) feed(*c, now);
  }
  if (queue_.empty()) return;
  std::size_t live = 0, opening = 0;
  for (auto& c : conns_) {
    if (c->closed()) continue;
    // A connection ready and idle with mail still queued is waiting for a token or a body
    // from disk: another connection would only wait too.
    if (c->ready()) return;
    ++live;
    if (!c->ever_ready()) ++opening;
  }
  const std::size_t limit = std::min<std::size_t>(policy_.max_connections, static_cast<std::size_t>(window_));
  while (live < limit && opening * kQueuedPerNewConnection < queue_.size()) {
    const Endpoint* ep = pick_endpoint(now);
    if (!ep) {
      // Every endpoint failed within this attempt: a site failure, unless a connection that
      // already works is still carrying mail.
      if (live == 0) defer_queue(last_failure_, now);
      return;
    }
    if (!rates_->take_connection(now)) return;  // connections_per_second: the next tick tries again
    open_connection(*ep, now);
    ++live;
    ++opening;
  }
}

void Site::open_connection(const Endpoint& ep, int64_t now) {
  smtp::SessionConfig cfg;
  bool fallback = false;
  cfg.ehlo_name = host_.hostname();
  cfg.use_chunking = policy_.chunking;
  cfg.peer_name = ep.label;
  TlsProfile tls;
  switch (policy_.tls) {
    case TlsPolicy::off: cfg.tls = smtp::TlsMode::off; break;
    case TlsPolicy::opportunistic: {
      // A handshake with this endpoint failed a little earlier: go on in plain text, as RFC 7435
      // allows, but only for a while: a server whose TLS broke once is asked again later,
      // instead of being downgraded for the life of the process.
      cfg.tls = smtp::TlsMode::opportunistic;
      if (auto it = plain_fallback_until_.find(ep.label); it != plain_fallback_until_.end()) {
        if (now < it->second) {
          cfg.tls = smtp::TlsMode::off;
          fallback = true;
        } else {
          plain_fallback_until_.erase(it);
        }
      }
      break;
    }
    case TlsPolicy::required:
    case TlsPolicy::verify: cfg.tls = smtp::TlsMode::required; break;
  }
  if (cfg.tls != smtp::TlsMode::off) tls = host_.tls_profile(policy_);
  conns_.push_back(std::make_unique<SmtpConnection>(host_.make_transport(), *this, ep, std::move(cfg),
                                                    policy_.timeouts, policy_.idle_timeout.count(), tls));
  host_.counters().connections_opened.fetch_add(1, std::memory_order_relaxed);
  metrics_.connections_opened.add();
  if (fallback) {
    conns_.back()->mark_tls_fallback();
    metrics_.tls_fallbacks.add();
  }
  conns_.back()->start(now);
}

void Site::on_connection_event(SmtpConnection& conn) {
  int64_t now = host_.now();
  metrics_.count_replies(conn.session().take_reply_tally());
  collect_results(conn, now);
  if (conn.closed()) {
    needs_reap_ = true;
    if (conn.tls_handshake_failed() && policy_.tls == TlsPolicy::opportunistic) {
      // Not a site failure, and never counted as one (a closed connection can be reported here
      // more than once; counting it would rest the endpoint until the next retry): the next
      // connections to this endpoint go without TLS until then.
      const int64_t window = std::min<int64_t>(policy_.retry.empty() ? 60'000 : policy_.retry.front().count(), 3'600'000);
      if (plain_fallback_until_.try_emplace(conn.endpoint().label, now + window).second)
        spdlog::warn("site {}: STARTTLS with {} failed; plain text to it for {} s, then TLS again", key(),
                     conn.endpoint().label, window / 1000);
    } else if (!conn.ever_ready() && conn.take_closed_report()) {
      on_connect_failure(conn, now);
    }
  } else if (conn.ready()) {
    feed(conn, now);
  }
  host_.mark_dirty(*this);
}

void Site::on_connect_failure(SmtpConnection& conn, int64_t now) {
  last_failure_ = conn.failure().code ? conn.failure() : conn.session().failure_reply();
  if (last_failure_.code == 0)
    last_failure_ = smtp::Reply{451, "4.4.2", fmt::format("{} failed before the session was ready", conn.endpoint().label)};
  on_reply(last_failure_, now);
  // Slow start halves once per failed connection: on_reply already did for a 421 greeting.
  if (last_failure_.code != 421) window_ = std::max(1.0, window_ / 2);
  // RFC 5321 §5.1: try the next MX (or address) now; this one rests until the next retry.
  // Rests a little less than the first retry interval: a retry drawn early by the jitter must
  // find the endpoint usable again, not count an attempt against a host it never tried.
  int64_t rest = policy_.retry.empty()
                     ? 60000
                     : static_cast<int64_t>(static_cast<double>(policy_.retry.front().count()) * (1 - queue::RetryPolicy::kJitter));
  for (std::size_t i = 0; i < route_->endpoints.size(); ++i)
    if (route_->endpoints[i].label == conn.endpoint().label) down_until_[i] = now + rest;
  // pump() decides: another endpoint to try, or a site failure that defers the queue.
}

void Site::feed(SmtpConnection& conn, int64_t now) {
  // A loop, not one send: the session refuses some envelopes locally (SIZE, SMTPUTF8, line
  // length) without a byte on the wire, and is ready again at once.
  while (conn.ready()) {
    if (conn.transactions() >= policy_.max_msgs_per_connection || host_.draining() || conn.stale())
      return conn.quit(now);
    while (!queue_.empty() && !queue_.front().body && loads_.size() < max_loads()) {
      Delivery d = std::move(queue_.front());
      queue_.pop_front();
      start_load(std::move(d));
    }
    // Nothing here to send yet (bodies on their way from disk): idle until a load lands.
    if (queue_.empty() || !queue_.front().body) return conn.mark_idle(now);
    // Suspended, or out of tokens: idle until the shard's tick pumps this site again.
    if (suspended(now) || !rates_->take_message(now)) return conn.mark_idle(now);
    conn.send(std::move(queue_.front()), now);
    queue_.pop_front();
    count_sent(now);
    collect_results(conn, now);
  }
}

std::size_t Site::max_loads() const { return std::max<std::size_t>(8, 2 * policy_.max_connections); }

void Site::start_load(Delivery d) {
  auto load = std::make_unique<BodyLoad>();
  load->site = this;
  load->at = d.msg->body_at.load();
  load->delivery = std::move(d);
  if (!load->at) return on_body_loaded(*load, -ENOENT);
  load->buf.resize(load->at->size);
  BodyLoad& l = *load;
  loads_.push_back(std::move(load));
  host_.read_body(*l.at, l.buf, l);
}

void Site::on_body_loaded(BodyLoad& load, int res) {
  Delivery d = std::move(load.delivery);
  const bool ok = load.at && res == static_cast<int>(load.at->size);
  if (ok) d.body = std::make_shared<const std::string>(std::move(load.buf));
  std::string where = load.at ? load.at->file->path : "(no location)";
  std::erase_if(loads_, [&](const std::unique_ptr<BodyLoad>& l) { return l.get() == &load; });
  if (ok && host_.bounced_by_operator(queue::domain_of(d.msg->recipients[d.recipients.front().index]), d)) {
    // bounce-all ran while this body was being read.
  } else if (ok && hold_if_domain_suspended(d, host_.now())) {
    // its domain was suspended while the body was being read: held_, without the body.
  } else if (ok) {
    queue_.push_front(std::move(d));
  } else {
    // The record was checksummed when it was written and when it was recovered: a failed read
    // is the disk's fault. Retry later rather than bounce mail that may still be readable.
    std::string why = res < 0 ? std::strerror(-res) : fmt::format("short read ({} bytes)", res);
    spdlog::error("message {}: cannot read its body from {}: {}", d.msg->id, where, why);
    host_.defer(std::move(d), smtp::Reply{451, "4.3.0", "cannot read the message from the spool: " + why}, retry_,
                 key(), route_);
  }
  host_.mark_dirty(*this);
}

void Site::collect_results(SmtpConnection& conn, int64_t now) {
  for (smtp::TransactionResult& tr : conn.session().take_results()) {
    std::optional<Delivery> d = conn.take_current();
    if (!d) continue;
    const AttemptTrace trace = conn.trace();
    host_.counters().transactions.fetch_add(1, std::memory_order_relaxed);
    Delivery again{d->msg, {}, nullptr};
    int64_t again_at = 0;
    bool any_delivered = false;
    for (std::size_t i = 0; i < d->recipients.size() && i < tr.recipients.size(); ++i) {
      const RecipientRef& r = d->recipients[i];
      const smtp::RecipientResult& res = tr.recipients[i];
      uint32_t attempts = r.attempts + 1;
      switch (res.outcome) {
        case smtp::Outcome::delivered:
          host_.report(d->msg, r.index, queue::RecipientState::delivered, attempts, res.reply, key(),
                        conn.endpoint().label, trace);
          any_delivered = true;
          break;
        case smtp::Outcome::bounced:
          host_.report(d->msg, r.index, queue::RecipientState::bounced, attempts, res.reply, key(),
                        conn.endpoint().label, trace);
          break;
        case smtp::Outcome::deferred:
          host_.defer_recipient(r, res.reply, retry_, again, again_at, key(), conn.endpoint().label, trace);
          break;
      }
    }
    // One look per transaction, at its first failing reply: rules are about the destination's
    // mood, which every recipient of one transaction shares.
    for (std::size_t i = 0; i < tr.recipients.size(); ++i)
      if (tr.recipients[i].outcome != smtp::Outcome::delivered) {
        on_reply(tr.recipients[i].reply, now);
        break;
      }
    if (any_delivered) window_ = std::min<double>(policy_.max_connections, window_ + 1);
    if (!again.recipients.empty()) host_.schedule_retry(std::move(again), again_at, route_);
  }
}

void Site::defer_queue(const smtp::Reply& why, int64_t now) {
  while (!queue_.empty()) {
    host_.defer(std::move(queue_.front()), why, retry_, key(), route_);
    queue_.pop_front();
  }
}

bool Site::has_work(int64_t now) const {
  return !queue_.empty() || !loads_.empty() || !conns_.empty() || now < suspended_until_ || held_count_ > 0 ||
         !domain_suspended_until_.empty() || now < throttled_until_;
}

void Site::note_activity(int64_t now) {
  if (has_work(now)) busy_at_ = now;
}

int64_t Site::evict_at_ms() const {
  // A rule's suspension or throttle counts as work until it ends, though no visit may fall
  // on that moment: the window starts at whichever came last.
  const int64_t since = std::max({busy_at_, suspended_until_, throttled_until_});
  const int64_t window = policy_.site_idle_evict.count();
  return since > INT64_MAX - window ? INT64_MAX : since + window;
}

bool Site::evictable(int64_t now) {
  const bool busy = has_work(now);
  if (busy || busy_at_ == 0) busy_at_ = now;
  return !busy && now >= evict_at_ms();
}

int64_t Site::now() const { return host_.now(); }

int64_t Site::next_due_ms(int64_t now, int64_t poll_ms) const {
  int64_t due = INT64_MAX;
  for (const auto& c : conns_) due = std::min(due, c->next_due_ms());
  // An operator's suspension of a domain that runs out by itself: pump() releases its mail.
  for (const auto& [domain, until] : domain_suspended_until_) due = std::min(due, until);
  // Mail waiting: a rule's suspension has a known end; the other waits (tokens, connections
  // per second, slow start's window, a resting endpoint, all connections busy) are re-checked
  // at the tick's pace, as before there were timers. Such a site has work, so the tick's cost
  // stays proportional to the sites with work.
  if (!queue_.empty()) due = std::min(due, suspended(now) ? suspended_until_ : now + poll_ms);
  if (queue_.empty() && loads_.empty() && conns_.empty() && held_count_ == 0 && domain_suspended_until_.empty())
    due = std::min(due, evict_at_ms());
  return due;
}

void Site::tick(int64_t now) {
  for (auto& c : conns_) c->tick(now);
}

void Site::reap() {
  if (!needs_reap_) return;
  needs_reap_ = false;
  // Counted here, where each connection is freed exactly once (events can repeat after a close).
  metrics_.connections_failed.add(std::count_if(conns_.begin(), conns_.end(), [](const auto& c) {
    return c->closed() && c->idle() && !c->ever_ready();
  }));
  std::erase_if(conns_, [](const std::unique_ptr<SmtpConnection>& c) { return c->closed() && c->idle(); });
  for (auto& c : conns_)
    if (c->closed()) needs_reap_ = true;  // still has an SQE in flight; try again later
}

}  // namespace ringpost::engine
