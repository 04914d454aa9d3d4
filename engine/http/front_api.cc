// The HTTP API routes (docs/api.md). Validation and rendering are pure functions in engine/api;
// this file only decides the status codes and ties acceptance to the spool: a 202 is written
// only from the spool's durability callback, never before.
#include <strings.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "engine/api/api_error.h"
#include "engine/api/json_escape.h"
#include "engine/api/message_renderer.h"
#include "engine/api/submit_request.h"
#include "engine/runtime/clock.h"
#include "engine/http/front.h"
#include "engine/security/secret.h"
#include "engine/security/sender_policy.h"
#include "engine/http/idempotency.h"
#include "queue/retry_policy.h"
#include "engine/ops/metrics/exposition.h"
#include "engine/delivery/shard.h"
#include "queue/spool_record.h"
#include "queue/spool_recovery.h"

namespace ringpost::engine {
namespace {

std::string error_json(std::string_view code, std::string_view message) {
  return api::to_json(api::ApiError{0, std::string(code), std::string(message), {}});
}

bool is_json_content_type(const std::string& ct) {
  return strncasecmp(ct.c_str(), "application/json", 16) == 0 && (ct.size() == 16 || ct[16] == ';' || ct[16] == ' ');
}

}  // namespace

void Front::handle(Conn& c, HttpRequest req) {
  std::string path = req.target.substr(0, req.target.find('?'));
  const std::string& m = req.method;
  c.extra_headers.clear();
  c.key.reset();
  c.idem = {};
  if (keys_changed_.load(std::memory_order_relaxed) && keys_changed_.exchange(false, std::memory_order_acquire))
    keys_ = keys_next_.load();  // a SIGHUP reload: revoked keys stop working from this request on
  // Draining (SIGTERM): nothing new is accepted, and /healthz fails so a load balancer stops
  // sending here. Retry-After covers the drain; the connection is closed so the client's next
  // try opens a new one, which the balancer sends to another node.
  if (draining_.load(std::memory_order_acquire) &&
      (path == "/healthz" || ((path == "/v1/messages" || path == "/v1/messages/batch") && m == "POST")))
    return respond(c.id, 503,
                   error_json("draining", "this node is shutting down and accepts no new messages; retry elsewhere or later"),
                   true, fmt::format("Retry-After: {}\r\n",
                               std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(cfg_.drain_timeout).count())));
  // Keys (docs/api.md): every /v1/ call names one once any is configured. The admin API also
  // takes the static admin token, checked there. /metrics names every key and site, so once
  // keys or an admin token exist it needs an admin identity too (docs/metrics.md).
  const bool admin_path = path == "/v1/domains" || path.starts_with("/v1/domains/");
  const bool metrics_path = path == "/metrics";
  const bool needs_auth = (keys_->enabled() && (path.starts_with("/v1/") || metrics_path)) || admin_path ||
                          (metrics_path && !cfg_.admin_token.empty());
  if (needs_auth && auth_throttle_.refused(c.peer, now_ms())) {
    metrics_.limit_hit("auth_failures_per_minute");
    const int64_t retry_s = auth_throttle_.retry_after_s(c.peer, now_ms());
    return respond(c.id, 429,
                   error_json("auth_throttled",
                              fmt::format("too many failed authentications from {}; retry after {} s", c.peer, retry_s)),
                   false, fmt::format("Retry-After: {}\r\n", retry_s));
  }
  const auto token = bearer_token(req.authorization);
  // Constant time (secret_equals), so a token cannot be guessed byte by byte from timing.
  static const ApiKey kAdminToken{"(admin token)", {}, {}, std::nullopt, 0, ApiKey::Role::admin};
  const bool is_admin_token = token && !cfg_.admin_token.empty() && secret_equals(*token, cfg_.admin_token);
  if (keys_->enabled() && (path.starts_with("/v1/") || metrics_path)) {
    static const ApiKey kInternal{"(webhooks)", {}, {}, std::nullopt, 0, ApiKey::Role::admin};
    const ApiKey* key = token && !internal_token_.empty() && secret_equals(*token, internal_token_)
                            ? &kInternal
                            : keys_->authenticate(req.authorization);
    // The admin token is an admin identity on every /v1/ call, so an operator's one token
    // (`ringpost ctl`) also reads stats, messages and events.
    if (!key && is_admin_token) key = &kAdminToken;
    if (!key && !admin_path)
      return refuse_auth(c, error_json("unauthorized", "missing or unknown API key (Authorization: Bearer <key>)"));
    if (key) {
      c.key = *key;
      const RateDecision d = limiter_->take(*key, now_ms());
      c.extra_headers = rate_limit_headers(d);
      if (!d.allowed)
        return respond(c.id, 429,
                       error_json("rate_limited", fmt::format("key '{}' is over its rate of {}/s; retry after {} s",
                                                              key->name, *key->rate, d.retry_after_s)));
    }
  }
  if (metrics_path && needs_auth) {
    if (!c.key && !is_admin_token)
      return refuse_auth(c, error_json("unauthorized", "GET /metrics needs an admin key or the admin token (Authorization: Bearer <token>)"));
    if (c.key && c.key->role != ApiKey::Role::admin)
      return respond(c.id, 403, error_json("forbidden", fmt::format("key '{}' has role submit; /metrics needs role admin", c.key->name)));
  }
  auto method_not_allowed = [&](std::string_view allowed) {
    respond(c.id, 405, error_json("method_not_allowed", fmt::format("{} {} is not supported; use {}", m, path, allowed)));
  };
  auto require_json = [&]() {
    if (is_json_content_type(req.content_type)) return true;
    respond(c.id, 415,
            error_json("unsupported_media_type",
                       fmt::format("Content-Type must be application/json, not '{}'", req.content_type)));
    return false;
  };

  if (path == "/healthz") {
    if (m != "GET") return method_not_allowed("GET");
    return respond(c.id, 200, R"({"status":"ok"})");
  }
  if (path == "/metrics") {  // open only where nothing else needs a key (checked above; docs/metrics.md)
    if (m != "GET") return method_not_allowed("GET");
    using S = queue::RecipientState;
    return respond(c.id, 200, metrics_.render(shards_, status_.count(S::queued) + status_.count(S::deferred),
                                              ledger_.total_bytes()),
                   false, {}, Exposition::kContentType);
  }
  if (handle_admin(c, req, path)) return;
  if (path == "/v1/events") {
    if (m != "GET") return method_not_allowed("GET");
    return handle_events(c, req);
  }
  if (path == "/v1/stats") {
    if (m != "GET") return method_not_allowed("GET");
    return respond(c.id, 200, stats_json());
  }
  if (path == "/v1/messages") {
    if (m != "POST") return method_not_allowed("POST");
    if (!require_json()) return;
    if (!idempotency_check(c, req, false)) return;
    auto parsed = api::parse_submit(req.body, cfg_.api);
    if (!parsed) {
      drop_idempotency(c.idem);
      return respond(c.id, parsed.error().http_status, api::to_json(parsed.error()));
    }
    std::vector<api::SubmitMessage> one;
    one.push_back(std::move(*parsed));
    return accept_messages(c, std::move(one), false);
  }
  if (path == "/v1/messages/batch") {
    if (m != "POST") return method_not_allowed("POST");
    if (!require_json()) return;
    if (!idempotency_check(c, req, true)) return;
    auto parsed = api::parse_batch(req.body, cfg_.api);
    if (!parsed) {
      drop_idempotency(c.idem);
      return respond(c.id, parsed.error().error.http_status, api::to_json(parsed.error()));
    }
    return accept_messages(c, std::move(*parsed), true);
  }
  if (path.rfind("/v1/messages/", 0) == 0) {
    if (m != "GET") return method_not_allowed("GET");
    std::string id = path.substr(std::strlen("/v1/messages/"));
    const queue::Message* msg = status_.find(id);
    // Another key's message is as unknown as a missing one: ids must not leak across keys.
    if (msg && c.key && c.key->role != ApiKey::Role::admin && msg->owner != c.key->name) msg = nullptr;
    if (!msg) return respond(c.id, 404, error_json("not_found", fmt::format("no message with id '{}'", id)));
    return respond(c.id, 200, message_status_json(*msg));
  }
  respond(c.id, 404, error_json("not_found", fmt::format("no route for {}", path)));
}

void Front::refuse_auth(Conn& c, const std::string& body) {
  const int64_t now = now_ms();
  auth_throttle_.failed(c.peer, now);
  if (auto line = auth_throttle_.take_log_line(now)) spdlog::warn("{}", *line);
  respond(c.id, 401, body, false, "WWW-Authenticate: Bearer\r\n");
}

void Front::accept_messages(Conn& c, std::vector<api::SubmitMessage> msgs, bool batch) {
  int64_t now = now_ms();
  if (dkim_replaced_.load(std::memory_order_relaxed) && dkim_replaced_.exchange(false, std::memory_order_acquire))
    dkim_ = dkim_next_.load();  // a SIGHUP reload; one request is signed with one policy
  if (c.key)
    for (std::size_t i = 0; i < msgs.size(); ++i)
      if (auto refusal = sender_refusal(*c.key, msgs[i], batch, i))
        return drop_idempotency(c.idem), respond(c.id, 403, api::to_json(*refusal));
  PendingAccept p{c.id, batch, now, {}, {}, {}, c.key ? c.key->name : std::string(), std::move(c.idem), {}, {}};
  p.request_complete_ns = c.request_complete_ns;
  p.msgs.reserve(msgs.size());
  const bool sign = !dkim_->keys.empty() || dkim_->require;
  std::unique_ptr<SignJob> job;
  if (sign) {
    job = std::make_unique<SignJob>();
    job->policy = dkim_;
    if (c.key) job->allowed_from = c.key->allowed_from;
    job->now_unix_seconds = now / 1000;
    job->items.reserve(msgs.size());
  }
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const api::SubmitMessage& m = msgs[i];
    auto s = std::make_shared<SpooledMessage>();
    s->id = api::new_message_id();
    s->from = m.from;
    s->created_at_ms = now;
    s->send_at_ms = m.send_at_ms.value_or(0) > now ? *m.send_at_ms : 0;
    s->recipients = m.envelope_recipients();
    std::string body = api::render_message(m, s->id, cfg_.hostname, now / 1000);
    std::string tags;
    if (!m.tags.empty()) {
      tags = "{";
      for (const auto& [k, v] : m.tags) {
        if (tags.size() > 1) tags += ',';
        api::append_json_string(tags, k);
        tags += ':';
        api::append_json_string(tags, v);
      }
      tags += '}';
    }
    p.tags.push_back(std::move(tags));
    p.metadata.push_back(m.metadata.value_or(std::string()));
    if (sign)
      job->items.push_back(SignItem{std::move(body), RequestField{batch, i, m.raw.has_value()}, std::nullopt, std::nullopt});
    else
      p.bodies.push_back(std::make_shared<const std::string>(std::move(body)));
    p.msgs.push_back(std::move(s));
  }
  if (!sign) return spool_and_answer(std::move(p));
  // Signed once, before the body is spooled, so a retry or a restart sends the same signed
  // bytes and the delivery path does no crypto; signed on the pool, so this loop keeps serving
  // other clients meanwhile. The connection waits (busy) and answers in order afterwards.
  if (!signing_) {
    signing_ = std::make_unique<SigningPool>(cfg_.signing_thread_count(), signed_);
    spdlog::info("DKIM signing on {} worker thread(s)", signing_->threads());
  }
  c.busy = true;
  job->tag = next_sign_tag_++;
  for (const SignItem& item : job->items) job->bytes += item.message.size();
  signing_backlog_.add(job->items.size(), job->bytes);
  awaiting_signature_.emplace(job->tag, std::move(p));
  signing_->submit(std::move(job));
}

void Front::on_signed() {
  signed_batch_.clear();
  while (signed_.drain(signed_batch_)) {
    for (std::unique_ptr<SignJob>& job : signed_batch_) {
      auto it = awaiting_signature_.find(job->tag);
      if (it == awaiting_signature_.end()) continue;
      PendingAccept p = std::move(it->second);
      awaiting_signature_.erase(it);
      signing_backlog_.remove(job->items.size(), job->bytes);
      const uint64_t conn_id = p.conn_id;
      if (auto c = conns_.find(conn_id); c != conns_.end()) c->second->busy = false;
      // A refusal refuses the whole request (a batch is all or nothing), naming the first item.
      auto failed = std::find_if(job->items.begin(), job->items.end(), [](const SignItem& i) { return i.error; });
      if (failed != job->items.end()) {
        drop_idempotency(p.idem);
        respond(conn_id, failed->error->http_status, api::to_json(*failed->error));
      } else {
        for (std::size_t i = 0; i < p.msgs.size(); ++i) {
          p.bodies.push_back(std::make_shared<const std::string>(std::move(job->items[i].message)));
          p.body_crcs.push_back(job->items[i].crc);
        }
        spool_and_answer(std::move(p));
      }
      // Requests pipelined behind this one, unless it now waits for the spool.
      if (auto c = conns_.find(conn_id); c != conns_.end() && !c->second->busy) process(*c->second);
    }
    signed_batch_.clear();
  }
  resume_parked();
}

bool Front::park_if_signing_full(Conn& c, HttpRequest& req) {
  if (!signing_backlog_.full() || req.method != "POST") return false;
  std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path != "/v1/messages" && path != "/v1/messages/batch") return false;
  metrics_.limit_hit(signing_backlog_.messages() >= cfg_.signing_queue_messages ? "signing_queue_messages"
                                                                                : "signing_queue_bytes");
  c.parked = std::move(req);
  c.busy = true;
  parked_.push_back(c.id);
  return true;
}

void Front::resume_parked() {
  while (!parked_.empty() && !signing_backlog_.full()) {
    const uint64_t id = parked_.front();
    parked_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end() || !it->second->parked) continue;  // closed while waiting
    Conn& c = *it->second;
    HttpRequest req = std::move(*c.parked);
    c.parked.reset();
    c.busy = false;
    handle(c, std::move(req));
    if (!c.busy) process(c);
  }
}

bool Front::idempotency_check(Conn& c, const HttpRequest& req, bool batch) {
  const std::string& key = req.idempotency_key;
  if (key.empty()) return true;
  if (key.size() > 255 || std::any_of(key.begin(), key.end(), [](unsigned char ch) { return ch < 0x21 || ch > 0x7e; })) {
    respond(c.id, 400, error_json("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters"));
    return false;
  }
  const std::string owner = c.key ? c.key->name : std::string();
  // The path is hashed too: the same body sent as a single message and as a batch differ.
  const std::string hash = sha256_hex(fmt::format("{}\n{}", batch ? "batch" : "single", req.body));
  const int64_t now = now_ms();
  if (const IdempotentAnswer* seen = idempotency_->find(owner, key, now)) {
    if (seen->request_hash != hash) {
      respond(c.id, 409, error_json("idempotency_mismatch",
                                    "this Idempotency-Key was used with a different request body in the last 24 h"));
    } else if (seen->status == 0) {
      respond(c.id, 409, error_json("idempotency_in_progress",
                                    "the first request with this Idempotency-Key is still being accepted; retry shortly"),
              false, "Retry-After: 1\r\n");
    } else {
      respond(c.id, seen->status, seen->body, false, "Idempotent-Replayed: true\r\n");
    }
    return false;
  }
  idempotency_->put(owner, key, IdempotentAnswer{hash, 0, {}, now + IdempotencyStore::kTtlMs});
  c.idem = IdempotencyContext{owner, key, hash, batch};
  return true;
}

void Front::drop_idempotency(const IdempotencyContext& idem) {
  if (!idem.key.empty()) idempotency_->erase(idem.owner, idem.key);
}

void Front::dispatch(const std::shared_ptr<const SpooledMessage>& msg, const std::vector<queue::Recipient>& states,
                     std::shared_ptr<const std::string> body) {
  // One job per destination domain: the domain decides the shard, and a shard sends one
  // transaction per message and domain.
  std::map<std::string, std::vector<RecipientRef>> by_domain;
  std::map<std::string, int64_t> not_before;
  auto live = policies_.current();
  for (uint32_t i = 0; i < states.size(); ++i) {
    if (queue::is_final(states[i].state)) continue;
    std::string domain = queue::domain_of(msg->recipients[i]);
    if (states[i].state == queue::RecipientState::deferred && states[i].attempts > 0) {
      // Recovered after a restart: the retry it was waiting for still holds (as in Postfix's
      // deferred queue), or every restart would hit a host that is down once more.
      const DeliveryPolicy p = live->effective(domain);
      const auto at = queue::RetryPolicy(p.retry, p.max_age)
                          .next_attempt_at_ms(states[i].attempts, msg->created_at_ms, states[i].updated_at_ms);
      if (at) not_before[domain] = std::max(not_before[domain], *at);
    }
    by_domain[std::move(domain)].push_back(RecipientRef{i, states[i].attempts});
  }
  for (auto& [domain, refs] : by_domain) {
    uint32_t s = shard_for_domain(domain, static_cast<uint32_t>(shards_.size()));
    // max_recipients_per_message: one SMTP transaction per slice of the envelope.
    const std::size_t per = live->max_recipients_per_message(domain).value_or(0);
    if (per == 0 || refs.size() <= per) {
      shards_[s]->inbox().push(ShardJob{DeliveryJob{msg, domain, std::move(refs), body, not_before[domain]}, nullptr});
    } else {
      for (std::size_t i = 0; i < refs.size(); i += per) {
        std::vector<RecipientRef> slice(refs.begin() + i, refs.begin() + std::min(refs.size(), i + per));
        shards_[s]->inbox().push(
            ShardJob{DeliveryJob{msg, domain, std::move(slice), body, not_before[domain]}, nullptr});
      }
    }
    shard_touched_[s] = true;
  }
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    if (!shard_touched_[s]) continue;
    shard_touched_[s] = false;
    shards_[s]->inbox().notify();
  }
}

std::string Front::stats_json() const {
  uint64_t opened = 0, transactions = 0, queued = 0, sites = 0, lookups = 0;
  for (Shard* s : shards_) {
    sites += s->counters().sites.load(std::memory_order_relaxed);
    lookups += s->counters().dns_lookups.load(std::memory_order_relaxed);
    opened += s->counters().connections_opened.load(std::memory_order_relaxed);
    transactions += s->counters().transactions.load(std::memory_order_relaxed);
    queued += s->counters().queued.load(std::memory_order_relaxed);
  }
  using S = queue::RecipientState;
  return fmt::format(
      R"({{"messages":{},"recipients":{{"queued":{},"deferred":{},"delivered":{},"bounced":{},"expired":{}}},"connections_opened":{},"transactions":{},"sites":{},"dns_lookups":{},"shards":{},"dkim":{{"signing_threads":{},"messages_awaiting_signature":{},"bytes_awaiting_signature":{},"peak_messages_awaiting_signature":{},"peak_bytes_awaiting_signature":{},"requests_waiting":{}}},"spool":{}}})",
      status_.messages(), status_.count(S::queued), status_.count(S::deferred), status_.count(S::delivered),
      status_.count(S::bounced), status_.count(S::expired), opened, transactions, sites, lookups, shards_.size(),
      signing_ ? signing_->threads() : 0, signing_backlog_.messages(), signing_backlog_.bytes(),
      signing_backlog_.peak_messages(), signing_backlog_.peak_bytes(), parked_.size(), spool_stats_json());
}

}  // namespace ringpost::engine
