// See shard.h. The loop shape is liburing's: submit and wait once, dispatch every completion,
// then do the bookkeeping that completions made necessary (new jobs, pumping the sites they
// touched, timers, events out). Timers are a 50 ms tick rather than one io_uring timeout per
// connection: SMTP deadlines are seconds to minutes, and a heap entry per site is cheaper than
// arming and cancelling a timeout SQE around every command. The tick visits only the sites
// whose due time has come (site_timers_), so 100,000 idle sites cost nothing until each one's
// eviction check.
#include "engine/delivery/shard.h"

#include <arpa/inet.h>
#include <pthread.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "engine/runtime/clock.h"
#include "engine/delivery/mx_resolver.h"
#include "engine/delivery/ring_transport.h"
#include "engine/tls/client_context.h"
#include "engine/tls/session_cache.h"

namespace ringpost::engine {
namespace {
constexpr int kTickMs = 50;
// The longest the loop sleeps with nothing due: a reload's new policies (refresh_policies) and
// the quiet release are noticed within it. Waking 20 times a second per shard for 100,000
// idle sites was the whole of their cost (bench/soak); twice a second is a tenth of it.
constexpr int64_t kIdleWaitMs = 500;
constexpr std::size_t kTrimAfterEvictions = 1000;
}

uint32_t shard_for_domain(const std::string& key, uint32_t shard_count) {
  // FNV-1a: stable across runs and builds, unlike std::hash, so a restart maps the same way.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % shard_count);
}

struct Shard::TlsState {
  std::optional<tls::ClientContext> ctx;
  tls::SessionCache sessions;
};

Shard::Shard(uint32_t index, const Config& cfg, Mailbox<DeliveryEvent>& events, const PolicyBook& policies,
             Mailbox<ShardAnswer>& answers)
    : index_(index), cfg_(cfg), events_(events), answers_(answers), policies_(policies),
      live_(policies.current()), policy_generation_(policies.generation()),
      jitter_rng_(static_cast<uint32_t>(now_ms()) ^ (index * 2654435761u)) {
  has_named_routes_ = names_route_hosts(*live_->config);
}

bool Shard::names_route_hosts(const Config& cfg) {
  return std::any_of(cfg.domains.begin(), cfg.domains.end(), [](const auto& d) {
    in6_addr probe;
    const auto& r = d.second.route;
    return r && inet_pton(AF_INET, r->host.c_str(), &probe) != 1 && inet_pton(AF_INET6, r->host.c_str(), &probe) != 1;
  });
}

Shard::~Shard() { join(); }

void Shard::start() {
  thread_ = std::thread([this] { run(); });
  // Named, so `top -H` and /proc/PID/task/*/comm tell the shards from the front (bench/soak
  // sums these threads' CPU as the tick's cost).
  pthread_setname_np(thread_.native_handle(), "ringpost-shard");
}

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

TlsProfile Shard::tls_profile(const DeliveryPolicy& p) {
  bool verify = p.tls == TlsPolicy::verify;
  auto key = std::make_pair(verify, p.tls_ca_file);
  auto it = tls_states_.find(key);
  if (it == tls_states_.end()) {
    auto st = std::make_unique<TlsState>();
    tls::ClientTlsOptions options;
    options.verify = verify;
    options.ca_file = p.tls_ca_file;
    auto ctx = tls::ClientContext::make(options);
    if (ctx) st->ctx.emplace(std::move(*ctx));
    else spdlog::error("TLS context (verify={}, ca_file='{}'): {}", verify, p.tls_ca_file, ctx.error());
    it = tls_states_.emplace(key, std::move(st)).first;
  }
  TlsState& st = *it->second;
  if (!st.ctx) return TlsProfile{};  // the connection's STARTTLS then fails with a clear reason
  return TlsProfile{st.ctx->get(), &st.sessions, verify};
}

void Shard::run() {
  // The ring is created on this thread: IORING_SETUP_SINGLE_ISSUER binds it to its submitter.
  try {
    ring_ = std::make_unique<Ring>();
    ring_->count_into(&metrics_.ring);
    resolver_ = std::make_unique<MxResolver>(*ring_, cfg_, [this](const std::string& domain, MxResolver::Result r) {
      on_resolved(domain, std::move(r.route), std::move(r.failure), r.expires_ms);
    });
    resolver_->set_wait_counter(&metrics_.dns_lookups_waited);
  } catch (const std::exception& e) {
    resolver_.reset();
    ring_.reset();
    return started_.failed(fmt::format("shard {} cannot start: {}", index_, e.what()));
  }
  inbox_.arm(*ring_);
  control_.arm(*ring_);
  started_.ok();
  while (!stop_.load(std::memory_order_relaxed)) {
    ring_->run_once(wait_ms());
    now_ = now_ms();
    iterate();
  }
  drain();
  // Whatever is still open after the drain is cut; undelivered mail is in the spool.
  for (auto& [key, s] : sites_) s->tick(INT64_MAX);
  flush_events();
  sites_.clear();
  tls_states_.clear();
  resolver_.reset();
  ring_.reset();
}

void Shard::iterate() {
  accept_jobs();
  run_commands();
  if (now_ >= next_tick_ms_) tick();
  // Pumping can mark sites dirty again (a connect that fails at once); those wait for the
  // next iteration rather than invalidating this walk.
  std::vector<Site*> dirty(dirty_.begin(), dirty_.end());
  dirty_.clear();
  for (Site* s : dirty) visit(*s);
  trim_after_evictions();
  quiet_.observe(work_, now_);
  if (quiet_.due(now_)) release_idle_memory();
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (!peer_touched_[i]) continue;
    peer_touched_[i] = false;
    peers_[i]->inbox().notify();
  }
  flush_events();
}

void Shard::drain() {
  // Stop handing out mail, let transactions in flight finish, say QUIT on idle connections,
  // for a bounded time: every delivery confirmed here is one not repeated after restart.
  draining_ = true;
  now_ = now_ms();
  const int64_t until = now_ + cfg_.drain_timeout.count();
  for (auto& [key, s] : sites_) s->pump(now_);
  while (now_ < until) {
    std::size_t open = 0;
    for (auto& [key, s] : sites_) {
      s->tick(now_);  // SMTP deadlines still hold: a dead server must not use up the whole drain
      s->reap();
      open += s->connection_count();
    }
    if (open == 0) break;
    ring_->run_once(kTickMs);
    now_ = now_ms();
    std::vector<Site*> dirty(dirty_.begin(), dirty_.end());
    dirty_.clear();
    for (Site* s : dirty) s->pump(now_);
    flush_events();
  }
}

Site& Shard::site_for(const RoutePtr& route, const std::string& domain) {
  // TLS requirements belong to the message's domain, not to whichever domain reached the site
  // first: domains that route to the same hosts share a site (and its connections) only if
  // they ask the same of TLS. Otherwise a tls = "required" domain rode a plain-text connection
  // opened for a tls = "off" one (issue 20).
  const DeliveryPolicy& policy = live_->effective(domain);
  const std::string key = site_key(route->site, policy);
  auto it = sites_.find(key);
  if (it == sites_.end()) {
    it = sites_.emplace(key, std::make_unique<Site>(*this, route, key, domain, policy, now_)).first;
    it->second->set_policy(*live_, now_);
    counters_.sites.store(sites_.size(), std::memory_order_relaxed);
  } else {
    it->second->update_route(route);
    // Rollup: a new domain on the site brings its limits (the strictest apply) and its
    // operator's suspension (docs/shaping.md "Rollup").
    if (it->second->add_domain(domain)) it->second->set_policy(*live_, now_);
  }
  return *it->second;
}

void Shard::accept_jobs() {
  incoming_.clear();
  if (!inbox_.drain(incoming_)) return;
  work_ += incoming_.size();
  // One atomic load: mail submitted after a reload (or an admin change) is routed and
  // limited by it, not by what the last tick saw.
  refresh_policies();
  for (ShardJob& j : incoming_) {
    Delivery d{std::move(j.job.msg), std::move(j.job.recipients), std::move(j.job.body)};
    if (bounced_by_operator(j.job.domain, d)) continue;
    // A scheduled message waits in the retry heap until its time, without an attempt counted.
    if (const int64_t at = std::max(d.msg->send_at_ms, j.job.not_before_ms); at > now_ && !j.route) {
      schedule_retry(std::move(d), at);
      continue;
    }
    if (j.route) {
      Site& s = site_for(j.route, j.job.domain);  // routed by a peer: the site is ours
      s.enqueue(std::move(d));
      mark_dirty(s);
    } else {
      route(j.job.domain, std::move(d));
    }
  }
}

RoutePtr Shard::static_route(const std::string& domain, const DeliveryPolicy& p) const {
  std::string host;
  uint16_t port = p.mx_port;
  std::string kind;
  if (p.route) {
    host = p.route->host;
    port = p.route->port;
    kind = "route:";
  } else if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    host = domain.substr(1, domain.size() - 2);  // address literal, RFC 5321 §4.1.3
    if (host.rfind("IPv6:", 0) == 0 || host.rfind("ipv6:", 0) == 0) host = host.substr(5);
    kind = "literal:";
  } else {
    return nullptr;
  }
  std::string ip = host == "localhost" ? "127.0.0.1" : host;
  in6_addr buf;
  int family = inet_pton(AF_INET, ip.c_str(), &buf) == 1 ? AF_INET : inet_pton(AF_INET6, ip.c_str(), &buf) == 1 ? AF_INET6 : 0;
  if (family == 0) return nullptr;  // a host name: resolved like an implicit MX
  Endpoint ep = make_endpoint(family, &buf, port, host, false);
  auto r = std::make_shared<Route>();
  r->site = kind + ep.label;
  r->endpoints.push_back(std::move(ep));
  r->expires_ms = INT64_MAX;
  return r;
}

std::unique_ptr<Transport> Shard::make_transport() {
  if (test_io_.transport) return test_io_.transport();  // a unit test's in-memory network (step())
  return std::make_unique<RingTransport>(*ring_);
}

void Shard::read_body(const BodyRef& at, std::span<char> into, Completion& done) {
  if (test_io_.read_body) return test_io_.read_body(at, into, done);  // a unit test's fake spool
  io_uring_prep_read(ring_->sqe(&done), at.file->fd, into.data(), into.size(), at.offset);
}

bool Shard::bounced_by_operator(const std::string& domain, const Delivery& d) {
  if (bounce_marks_.empty()) return false;
  auto it = bounce_marks_.find(domain);
  if (it == bounce_marks_.end() || d.msg->created_at_ms > it->second.first) return false;
  for (const RecipientRef& r : d.recipients)
    report(d.msg, r.index, queue::RecipientState::bounced, r.attempts, it->second.second);
  return true;
}

void Shard::route(const std::string& domain, Delivery d) {
  if (bounced_by_operator(domain, d)) return;
  auto [entry, fresh] = routes_.try_emplace(domain);
  RouteEntry& e = entry->second;
  if (fresh) {
    e.domain = &entry->first;
    route_timers_.schedule(e, now_ + live_->config->defaults.site_idle_evict.count());
  }
  e.used_ms = now_;
  if (!e.pending && (e.route || e.failure.code) && e.expires_ms > now_) return dispatch(domain, std::move(d), e);
  if (!e.pending) {
    const DeliveryPolicy& p = live_->config->policy_for(domain);
    if (RoutePtr r = static_route(domain, p)) {
      e.failure = {};
      // An operator's route goes wherever the operator said; an address literal is the
      // recipient's choice and is checked like an MX answer.
      e.route = p.route ? std::move(r) : without_blocked(domain, std::move(r), e.failure);
      e.expires_ms = INT64_MAX;
      return dispatch(domain, std::move(d), e);
    }
    e.pending = true;
    counters_.dns_lookups.fetch_add(1, std::memory_order_relaxed);
    // A route to a host name is looked up like an implicit MX of that name.
    // No resolver: a unit test's shard (step()); the delivery waits here.
    if (resolver_) resolver_->lookup(p.route ? p.route->host : domain, now_);
  }
  e.waiting.push_back(std::move(d));
  ++route_waiting_;
}

void Shard::on_resolved(const std::string& name, RoutePtr route, smtp::Reply failure, int64_t expires_ms) {
  // The lookup was for a domain, or for a static route's host name (only then can several
  // domains wait on one answer, and only then is a walk over every domain needed).
  std::vector<std::string> domains;
  if (auto it = routes_.find(name); it != routes_.end() && it->second.pending) domains.push_back(name);
  if (has_named_routes_)
    for (auto& [domain, e] : routes_) {
      const DeliveryPolicy& p = live_->config->policy_for(domain);
      if (e.pending && p.route && p.route->host == name && domain != name) domains.push_back(domain);
    }
  for (const std::string& domain : domains) {
    RouteEntry& e = routes_[domain];
    const DeliveryPolicy& p = live_->config->policy_for(domain);
    e.pending = false;
    e.route = route;
    e.failure = failure;
    if (route && p.route) {
      // A named static route: the resolved addresses, on the route's port. The operator
      // named the host, so [delivery] blocked_networks does not apply to it.
      auto r = std::make_shared<Route>(*route);
      r->site = fmt::format("route:{}:{}", p.route->host, p.route->port);
      for (Endpoint& ep : r->endpoints) reinterpret_cast<sockaddr_in*>(&ep.addr)->sin_port = htons(p.route->port);
      e.route = std::move(r);
    } else if (route) {
      e.route = without_blocked(domain, route, e.failure);
    }
    e.expires_ms = expires_ms;
    route_waiting_ -= e.waiting.size();
    std::vector<Delivery> waiting = std::move(e.waiting);
    e.waiting.clear();
    for (Delivery& d : waiting) dispatch(domain, std::move(d), e);
  }
}

RoutePtr Shard::without_blocked(const std::string& domain, RoutePtr route, smtp::Reply& failure) const {
  // The live config: a SIGHUP that changes blocked_networks also forgets settled routes
  // (refresh_policies), so the next message for a domain is checked against the new list.
  CheckedRoute checked = drop_blocked_endpoints(route, live_->config->delivery.blocked_networks);
  if (checked.blocked.empty()) return checked.route;
  // Once per answer (a cached route is not checked again), so a hostile domain's mail does
  // not turn into one log line per message.
  spdlog::warn("domain {}: not connecting to {} ([delivery] blocked_networks){}", domain,
               fmt::join(checked.blocked, ", "), checked.route ? "" : "; its recipients bounce");
  if (!checked.route) failure = std::move(checked.refused);
  return std::move(checked.route);
}

void Shard::dispatch(const std::string& domain, Delivery d, const RouteEntry& e) {
  if (!e.route) {
    if (e.failure.is_permanent()) {
      for (const RecipientRef& r : d.recipients)
        report(d.msg, r.index, queue::RecipientState::bounced, r.attempts + 1, e.failure);
    } else {
      const DeliveryPolicy& p = live_->config->policy_for(domain);
      defer(std::move(d), e.failure, queue::RetryPolicy(p.retry, p.max_age));
    }
    return;
  }
  const uint32_t owner = peers_.empty() ? index_ : shard_for_domain(e.route->site, static_cast<uint32_t>(peers_.size()));
  if (owner == index_) {
    Site& s = site_for(e.route, domain);
    s.enqueue(std::move(d));
    mark_dirty(s);
    return;
  }
  peers_[owner]->inbox().push(
      ShardJob{DeliveryJob{std::move(d.msg), domain, std::move(d.recipients), std::move(d.body)}, e.route});
  peer_touched_[owner] = true;
}

void Shard::refresh_policies() {
  const uint64_t g = policies_.generation();
  if (g == policy_generation_) return;
  policy_generation_ = g;
  const std::shared_ptr<const Config> before = live_->config;
  live_ = policies_.current();
  if (live_->config != before) {
    // A reloaded file may change [domains] routes: forget settled routes so the next message
    // for a domain is routed by the new file. Mail already handed to a site goes where it was going.
    has_named_routes_ = names_route_hosts(*live_->config);
    ++config_serial_;  // retries scheduled before the reload are routed again
    for (auto it = routes_.begin(); it != routes_.end();) {
      RouteEntry& e = it->second;
      if (e.pending || !e.waiting.empty()) {
        ++it;
        continue;
      }
      route_timers_.cancel(e);
      it = routes_.erase(it);
    }
  }
  bounce_marks_.clear();
  for (const auto& [domain, o] : live_->overrides)
    if (o.bounce_created_before_ms)
      bounce_marks_[domain] = {o.bounce_created_before_ms,
                               smtp::Reply{550, "5.0.0", fmt::format("administratively bounced: {}", o.bounce_reason)}};
  for (auto& [key, s] : sites_) {
    s->set_policy(*live_, now_);
    mark_dirty(*s);  // new limits, suspensions or site_idle_evict: a new due time
  }
}

void Shard::run_commands() {
  commands_.clear();
  if (!control_.drain(commands_)) return;
  // An admin change (suspend, throttle) was published before its request was sent here: take
  // it now, so the answer the operator gets is already true.
  refresh_policies();
  for (const ShardCommand& cmd : commands_) answers_.push(answer(cmd));
  answers_.notify();
}

ShardAnswer Shard::answer(const ShardCommand& cmd) {
  ShardAnswer a;
  a.request_id = cmd.request_id;
  a.shard = index_;
  using Kind = ShardCommand::Kind;
  if (cmd.kind == Kind::retry_now || cmd.kind == Kind::bounce_all) {
    // The retry heap cannot be edited in place: rebuild it without the domain's entries.
    std::vector<Retry> keep;
    while (!retries_.empty()) {
      Retry r = std::move(const_cast<Retry&>(retries_.top()));
      retries_.pop();
      if (r.domain != cmd.domain) {
        keep.push_back(std::move(r));
        continue;
      }
      a.affected += r.delivery.recipients.size();
      if (cmd.kind == Kind::retry_now) {
        r.at_ms = now_;
        keep.push_back(std::move(r));
      } else {
        if (--retries_by_domain_[r.domain] == 0) retries_by_domain_.erase(r.domain);
        for (const RecipientRef& ref : r.delivery.recipients)
          report(r.delivery.msg, ref.index, queue::RecipientState::bounced, ref.attempts, cmd.reply);
      }
    }
    for (Retry& r : keep) retries_.push(std::move(r));
    if (cmd.kind == Kind::bounce_all) {
      if (auto it = routes_.find(cmd.domain); it != routes_.end()) {
        for (Delivery& d : it->second.waiting)
          for (const RecipientRef& ref : d.recipients) {
            report(d.msg, ref.index, queue::RecipientState::bounced, ref.attempts, cmd.reply);
            ++a.affected;
          }
        route_waiting_ -= it->second.waiting.size();
        it->second.waiting.clear();
      }
      for (auto& [key, s] : sites_) a.affected += s->bounce_domain(cmd.domain, cmd.reply);
    }
    if (cmd.kind == Kind::retry_now) next_tick_ms_ = now_;  // at once, not at the next tick
    flush_events();
    return a;
  }
  for (auto& [key, s] : sites_)
    if (cmd.domain.empty() || s->domains().count(cmd.domain)) a.sites.push_back(s->snapshot(now_));
  for (const auto& [domain, n] : retries_by_domain_)
    if (cmd.domain.empty() || domain == cmd.domain) a.waiting_by_domain[domain] += n;
  for (const auto& [domain, e] : routes_)
    if (!e.waiting.empty()) a.waiting_by_domain[domain] += e.waiting.size();
  return a;
}

int Shard::wait_ms() const {
  // Lookups in flight need c-ares' timeouts polled; dirty sites want their visit soon.
  if (!dirty_.empty() || (resolver_ && resolver_->in_flight() > 0)) return kTickMs;
  int64_t due = now_ + kIdleWaitMs;
  if (!retries_.empty()) due = std::min(due, retries_.top().at_ms);
  if (auto d = site_timers_.next_due_ms()) due = std::min(due, *d);
  if (auto d = route_timers_.next_due_ms()) due = std::min(due, *d);
  // Not before the next tick, which is what runs the timers: waking earlier would only spin.
  due = std::max(due, next_tick_ms_);
  return static_cast<int>(std::clamp<int64_t>(due - now_, 0, kIdleWaitMs));
}

void Shard::tick() {
  next_tick_ms_ = now_ + kTickMs;
  refresh_policies();
  while (!retries_.empty() && retries_.top().at_ms <= now_) {
    // priority_queue::top() is const; the element is popped right after, so moving is safe.
    Retry r = std::move(const_cast<Retry&>(retries_.top()));
    retries_.pop();
    if (auto it = retries_by_domain_.find(r.domain); it != retries_by_domain_.end() && --it->second == 0)
      retries_by_domain_.erase(it);
    retry(std::move(r));
  }
  if (resolver_) resolver_->tick(now_);  // none in a unit test's shard (step())
  // Only what is due: a connection's deadline or idle timeout, a site's wait, an eviction
  // check. Visited with this iteration's dirty sites (run), which reschedules them.
  while (Site* s = site_timers_.pop_due(now_)) {
    s->tick(now_);
    mark_dirty(*s);
  }
  while (RouteEntry* e = route_timers_.pop_due(now_)) check_route(*e);
  counters_.queued.store(retries_.size() + route_waiting_ + static_cast<std::size_t>(std::max<int64_t>(0, site_queued_)),
                         std::memory_order_relaxed);
}

void Shard::visit(Site& s) {
  s.note_activity(now_);
  s.pump(now_);
  s.reap();
  if (s.evictable(now_)) return evict(s);
  publish(s, static_cast<int64_t>(s.queued()), static_cast<int64_t>(s.connection_count()));
  site_timers_.schedule(s, s.next_due_ms(now_, kTickMs));
}

void Shard::trim_after_evictions() {
  // glibc keeps what a thread freed in its arena for the next malloc; after the state of
  // thousands of sites is freed, most of those pages would stay resident for the life of the
  // process (measured: bench/soak, docs/performance.md "Soak"). A long run of evictions trims
  // every 1,000 (malloc_trim walks the heap: milliseconds for hundreds of MiB, so not per
  // site); when they stop, the quiet release trims the rest.
  if (evicted_since_trim_ < kTrimAfterEvictions) return;
  evicted_since_trim_ = 0;
  trim_heap();
}

void Shard::release_idle_memory() {
  shrink_buckets(routes_);
  shrink_buckets(sites_);
  shrink_buckets(dirty_);
  shrink_buckets(retries_by_domain_);
  shrink_buckets(bounce_marks_);
  site_timers_.shrink();
  route_timers_.shrink();
  if (retries_.empty()) retries_ = decltype(retries_){};
  shrink_if_empty(incoming_);
  shrink_if_empty(outgoing_);
  shrink_if_empty(commands_);
  evicted_since_trim_ = 0;
  trim_heap();
}

void Shard::evict(Site& s) {
  ++evicted_since_trim_;
  ++work_;
  publish(s, 0, 0);
  site_timers_.cancel(s);
  dirty_.erase(&s);
  const std::string key = s.key();  // s (and its key) go with the erase
  sites_.erase(key);
  counters_.sites.store(sites_.size(), std::memory_order_relaxed);
}

void Shard::publish(Site& s, int64_t queued, int64_t connections) {
  Site::Published& p = s.published();
  if (p.queued == queued && p.connections == connections) return;
  site_queued_ += queued - p.queued;
  metrics_.add_site_gauges(s.metrics(), queued - p.queued, connections - p.connections);
  p.queued = queued;
  p.connections = connections;
}

void Shard::check_route(RouteEntry& e) {
  // The window as configured now: a reload that shortens it applies from each entry's next check.
  const int64_t window = live_->config->defaults.site_idle_evict.count();
  if (e.pending || !e.waiting.empty()) return route_timers_.schedule(e, now_ + window);
  if (now_ - e.used_ms < window) return route_timers_.schedule(e, e.used_ms + window);
  const std::string domain = *e.domain;  // e goes with the erase
  routes_.erase(domain);
}

void Shard::report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
                   uint32_t attempts, const smtp::Reply& reply, const std::string& site, const std::string& host,
                   const AttemptTrace& trace) {
  outgoing_.push_back(DeliveryEvent{msg, rcpt, state, attempts, reply, now_, site, host, trace});
}

void Shard::report_hold(const Delivery& d, const smtp::Reply& why, int64_t until_ms, const std::string& site) {
  for (const RecipientRef& r : d.recipients) {
    report(d.msg, r.index, queue::RecipientState::deferred, r.attempts, why, site);
    outgoing_.back().next_attempt_at_ms = until_ms;
    outgoing_.back().hold = true;
  }
}

void Shard::schedule_retry(Delivery d, int64_t at_ms, RoutePtr route) {
  // Waiting costs the envelope only; the site reads the body back when a connection wants it.
  d.body.reset();
  std::string domain = queue::domain_of(d.msg->recipients[d.recipients.front().index]);
  ++retries_by_domain_[domain];
  retries_.push(Retry{at_ms, std::move(domain), std::move(d), std::move(route), config_serial_});
}

void Shard::retry(Retry r) {
  if (bounced_by_operator(r.domain, r.delivery)) return;
  // The straight path (docs/architecture.md "A message's path", step 6): the route the delivery was
  // on still holds, so it goes back to its site on this shard without a lookup or a hop.
  if (r.route && r.config_serial == config_serial_ && r.route->expires_ms > now_) {
    Site& s = site_for(r.route, r.domain);
    s.enqueue(std::move(r.delivery));
    mark_dirty(s);
    return;
  }
  // Its TTL ended (or a reload may have changed it): the domain's own shard routes it again,
  // so a domain's DNS answer is cached on one shard only, and the lookup is shared with the
  // domain's new mail.
  // (No peers set, as in a lone shard's tests: it owns everything.)
  const uint32_t owner = peers_.empty() ? index_ : shard_for_domain(r.domain, static_cast<uint32_t>(peers_.size()));
  if (owner == index_) return route(r.domain, std::move(r.delivery));
  peers_[owner]->inbox().push(
      ShardJob{DeliveryJob{std::move(r.delivery.msg), r.domain, std::move(r.delivery.recipients), nullptr}, nullptr});
  peer_touched_[owner] = true;
}

void Shard::defer_recipient(const RecipientRef& r, const smtp::Reply& why, const queue::RetryPolicy& retry,
                            Delivery& again, int64_t& again_at, const std::string& site,
                            const std::string& host, const AttemptTrace& trace) {
  uint32_t attempts = r.attempts + 1;
  std::uniform_real_distribution<double> jitter(-1.0, 1.0);
  // A scheduled message's age starts at its send time, not when it was handed in.
  const int64_t born = std::max(again.msg->created_at_ms, again.msg->send_at_ms);
  auto at = retry.next_attempt_at_ms(attempts, born, now_, jitter(jitter_rng_));
  if (!at) {
    report(again.msg, r.index, queue::RecipientState::expired, attempts, why, site, host, trace);
    return;
  }
  // The recipients of one delivery are retried together, at the first one's time: that is
  // the time each is shown (next_attempt_at).
  if (again.recipients.empty()) again_at = *at;
  report(again.msg, r.index, queue::RecipientState::deferred, attempts, why, site, host, trace);
  outgoing_.back().next_attempt_at_ms = again_at;
  again.recipients.push_back({r.index, attempts});
}

void Shard::defer(Delivery d, const smtp::Reply& why, const queue::RetryPolicy& retry, const std::string& site,
                  RoutePtr route) {
  Delivery again{d.msg, {}, nullptr};
  int64_t again_at = 0;
  for (const RecipientRef& r : d.recipients) defer_recipient(r, why, retry, again, again_at, site);
  if (!again.recipients.empty()) schedule_retry(std::move(again), again_at, std::move(route));
}

void Shard::flush_events() {
  if (outgoing_.empty()) return;
  work_ += outgoing_.size();
  for (DeliveryEvent& e : outgoing_) events_.push(std::move(e));
  outgoing_.clear();
  events_.notify();
}

}  // namespace ringpost::engine
