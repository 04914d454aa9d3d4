// See shard.h. The loop shape is liburing's: submit and wait once, dispatch every completion,
// then do the bookkeeping that completions made necessary (new jobs, pumping the destinations
// they touched, timers, events out). Timers are a 50 ms tick rather than one io_uring timeout
// per connection: SMTP deadlines are seconds to minutes, and a scan per tick is cheaper than
// arming and cancelling a timeout SQE around every command.
#include "engine/shard.h"

#include <spdlog/spdlog.h>

#include "engine/clock.h"
#include "engine/tls/client_context.h"
#include "engine/tls/session_cache.h"
#include "engine/mx_resolver.h"

namespace ringpost::engine {
namespace {
constexpr int kTickMs = 50;
}

uint32_t shard_for_domain(const std::string& domain, uint32_t shard_count) {
  // FNV-1a: stable across runs and builds, unlike std::hash, so a restart maps the same way.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : domain) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % shard_count);
}

Shard::Shard(uint32_t index, const Config& cfg, Mailbox<DeliveryEvent>& events)
    : index_(index), cfg_(cfg), events_(events) {}

struct Shard::TlsState {
  std::optional<tls::ClientContext> ctx;
  tls::SessionCache sessions;
  std::string error;
};

Shard::~Shard() { join(); }

TlsProfile Shard::tls_profile(const DeliveryPolicy& p) {
  bool verify = p.tls == TlsPolicy::verify;
  auto key = std::make_pair(verify, p.tls_ca_file);
  auto it = tls_states_.find(key);
  if (it == tls_states_.end()) {
    auto st = std::make_unique<TlsState>();
    auto ctx = tls::ClientContext::make(tls::ClientTlsOptions{verify, p.tls_ca_file});
    if (ctx) st->ctx.emplace(std::move(*ctx));
    else spdlog::error("TLS context (verify={}, ca_file='{}'): {}", verify, p.tls_ca_file, ctx.error());
    it = tls_states_.emplace(key, std::move(st)).first;
  }
  TlsState& st = *it->second;
  if (!st.ctx) return TlsProfile{};  // the connection's STARTTLS then fails with a clear reason
  return TlsProfile{st.ctx->get(), &st.sessions, verify};
}

void Shard::start() { thread_ = std::thread([this] { run(); }); }

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::run() {
  // The ring is created on this thread: IORING_SETUP_SINGLE_ISSUER binds it to its submitter.
  ring_ = std::make_unique<Ring>();
  resolver_ = std::make_unique<MxResolver>(*ring_, cfg_);
  inbox_.arm(*ring_);
  while (!stop_.load(std::memory_order_relaxed)) {
    ring_->run_once(kTickMs);
    now_ = now_ms();
    accept_jobs();
    if (now_ >= next_tick_ms_) tick();
    // Pumping can mark destinations dirty again (a connect that fails at once); those wait
    // for the next iteration rather than invalidating this walk.
    std::vector<Destination*> dirty(dirty_.begin(), dirty_.end());
    dirty_.clear();
    for (Destination* d : dirty) {
      d->pump(now_);
      d->reap();
    }
    flush_events();
  }
  // Best effort on stop: close sockets; undelivered mail is in the spool for the next start.
  for (auto& [name, d] : destinations_) d->tick(INT64_MAX);
  destinations_.clear();
  tls_states_.clear();
  resolver_.reset();
  ring_.reset();
}

Destination& Shard::destination_for(const std::string& domain) {
  auto it = destinations_.find(domain);
  if (it == destinations_.end())
    it = destinations_.emplace(domain, std::make_unique<Destination>(*this, domain, cfg_.policy_for(domain))).first;
  return *it->second;
}

void Shard::accept_jobs() {
  incoming_.clear();
  if (!inbox_.drain(incoming_)) return;
  for (DeliveryJob& job : incoming_) {
    Destination& d = destination_for(job.domain);
    d.enqueue(Delivery{std::move(job.msg), std::move(job.recipients)});
    mark_dirty(d);
  }
}

void Shard::tick() {
  next_tick_ms_ = now_ + kTickMs;
  while (!retries_.empty() && retries_.top().at_ms <= now_) {
    // priority_queue::top() is const; the element is popped right after, so moving is safe.
    Retry& r = const_cast<Retry&>(retries_.top());
    Destination& d = destination_for(r.domain);
    d.enqueue(std::move(r.delivery));
    retries_.pop();
    mark_dirty(d);
  }
  resolver_->tick(now_);
  std::size_t queued = retries_.size();
  for (auto& [name, d] : destinations_) {
    d->tick(now_);
    queued += d->queued();
    mark_dirty(*d);
  }
  counters_.queued.store(queued, std::memory_order_relaxed);
}

void Shard::report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
                   uint32_t attempts, const smtp::Reply& reply) {
  outgoing_.push_back(DeliveryEvent{msg, rcpt, state, attempts, reply, now_});
}

void Shard::schedule_retry(Delivery d, int64_t at_ms) {
  std::string domain = queue::domain_of(d.msg->recipients[d.recipients.front().index]);
  retries_.push(Retry{at_ms, std::move(domain), std::move(d)});
}

bool Shard::resolve_mx(Destination& d, int64_t now) { return resolver_->resolve(d, now); }

void Shard::flush_events() {
  if (outgoing_.empty()) return;
  for (DeliveryEvent& e : outgoing_) events_.push(std::move(e));
  outgoing_.clear();
  events_.notify();
}

}  // namespace ringpost::engine
