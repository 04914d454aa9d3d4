// The admin API (docs/shaping.md): /v1/domains and the per-domain throttle, suspend, resume,
// retry-now and bounce-all. Limits and suspensions are the front's to change: it publishes a
// new LivePolicy (shards take it on their next tick) and persists the overrides. What only the
// shards know (queues, connections, measured rates) or only they may touch (retry heaps, site
// queues) is asked of every shard through its control mailbox; the HTTP answer is sent when
// the last shard has answered.
#include <openssl/crypto.h>

#include <optional>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/api/api_error.h"
#include "engine/api/json_escape.h"
#include "engine/api/rfc3339.h"
#include "engine/runtime/clock.h"
#include "engine/ops/delivery_log.h"
#include "engine/http/front.h"
#include "engine/security/secret.h"
#include "engine/delivery/override_store.h"
#include "engine/delivery/shard.h"
#include "queue/duration.h"
#include "queue/token_bucket.h"

namespace ringpost::engine {
namespace {

std::string error_json(int status, std::string_view code, std::string message) {
  return api::to_json(api::ApiError{status, std::string(code), std::move(message), {}});
}

std::string json_optional_rate(const std::optional<double>& r) { return r ? fmt::format("{}", *r) : "null"; }

std::string json_time(int64_t ms) { return ms > 0 ? fmt::format("\"{}\"", rfc3339_ms(ms)) : "null"; }

std::string limits_json(const DeliveryPolicy& p) {
  return fmt::format(
      R"({{"max_connections":{},"max_msgs_per_connection":{},"msgs_per_second":{},"connections_per_second":{},"max_recipients_per_message":{},"initial_connections":{},"idle_timeout":"{}ms"}})",
      p.max_connections, p.max_msgs_per_connection, json_optional_rate(p.msgs_per_second),
      json_optional_rate(p.connections_per_second),
      p.max_recipients_per_message ? fmt::format("{}", *p.max_recipients_per_message) : "null", p.initial_connections,
      p.idle_timeout.count());
}

// A lower-case domain from the path, or empty when it cannot be one.
std::string domain_from_path(std::string_view s) {
  if (s.empty() || s.size() > 253) return {};
  std::string d;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '[' || c == ']' || c == ':'))
      return {};
    d += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return d;
}

std::optional<std::string> json_string_field(std::string_view body, const char* key) {
  if (body.empty()) return std::nullopt;
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  simdjson::dom::element root;
  std::string_view v;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS || root[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return std::string(v);
}

}  // namespace

bool Front::authorized_admin(Conn& c, const HttpRequest& req) {
  if (c.key) {
    if (c.key->role == ApiKey::Role::admin) return true;
    respond(c.id, 403, error_json(403, "forbidden", fmt::format("key '{}' has role submit; the admin API needs role admin", c.key->name)));
    return false;
  }
  if (cfg_.admin_token.empty()) {
    respond(c.id, 403, error_json(403, "admin_disabled", "the admin API is disabled: set [server] admin_token"));
    return false;
  }
  // Constant time, so the token cannot be guessed byte by byte from response timing.
  const auto token = bearer_token(req.authorization);
  if (!token || !secret_equals(*token, cfg_.admin_token)) {
    refuse_auth(c, error_json(401, "unauthorized", "missing or wrong admin token (Authorization: Bearer <token>)"));
    return false;
  }
  return true;
}

bool Front::handle_admin(Conn& c, const HttpRequest& req, const std::string& path) {
  static constexpr std::string_view kPrefix = "/v1/domains";
  if (path != kPrefix && !path.starts_with("/v1/domains/")) return false;
  if (!authorized_admin(c, req)) return true;
  const std::string& m = req.method;
  if (path == kPrefix) {
    if (m != "GET") {
      respond(c.id, 405, error_json(405, "method_not_allowed", "use GET /v1/domains"));
      return true;
    }
    ask_shards(c.id, AdminWait::Kind::list, "", {});
    return true;
  }
  std::string_view rest = std::string_view(path).substr(kPrefix.size() + 1);
  std::string_view action;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const std::string domain = domain_from_path(rest);
  if (domain.empty()) {
    respond(c.id, 400, error_json(400, "invalid_domain", fmt::format("'{}' is not a domain name", rest)));
    return true;
  }
  auto need = [&](std::string_view method) {
    if (m == method) return true;
    respond(c.id, 405, error_json(405, "method_not_allowed", fmt::format("use {} {}", method, path)));
    return false;
  };
  if (action.empty()) {
    if (need("GET")) ask_shards(c.id, AdminWait::Kind::one, domain, {});
    return true;
  }
  if (action == "throttle") {
    if (!need("PUT")) return true;
    auto live = policies_.current();
    DomainOverride base;
    if (auto it = live->overrides.find(domain); it != live->overrides.end()) base = it->second;
    auto o = parse_throttle(req.body, base);
    if (!o) {
      respond(c.id, o.error().http_status, api::to_json(o.error()));
      return true;
    }
    if (!change_override(c.id, domain, *o)) return true;
    ask_shards(c.id, AdminWait::Kind::one, domain, {});
    delivery_log_->admin("throttle", domain, c.key ? c.key->name : std::string(), &*o);
    spdlog::info("admin: throttle for {} set", domain);
    return true;
  }
  if (action == "suspend" || action == "resume") {
    if (!need("POST")) return true;
    auto live = policies_.current();
    DomainOverride o;
    if (auto it = live->overrides.find(domain); it != live->overrides.end()) o = it->second;
    if (action == "resume") {
      // Nothing to end: say so rather than answer 200 for an action that did nothing.
      if (o.suspended_until_ms <= now_ms()) {
        respond(c.id, 409, error_json(409, "not_suspended",
                                      fmt::format("{} is not suspended by an operator{}", domain,
                                                  "; a [[rules]] suspension of its site ends by itself")));
        return true;
      }
      o.suspended_until_ms = 0;
    } else {
      // {"for":"10m"} or {"until":"<epoch ms>"}; without either, a year (until resumed).
      int64_t until = now_ms() + int64_t(365) * 24 * 3600 * 1000;
      if (auto f = json_string_field(req.body, "for")) {
        auto d = queue::parse_duration(*f);
        if (!d) {
          respond(c.id, 400, api::to_json(api::ApiError{400, "invalid_field", fmt::format("for: {}", d.error()), "for"}));
          return true;
        }
        until = now_ms() + d->count();
      } else if (auto u = json_string_field(req.body, "until")) {
        auto t = api::parse_rfc3339(*u);
        if (!t) {
          respond(c.id, 400, api::to_json(api::ApiError{400, "invalid_field",
                                                        fmt::format("until must be a time like \"2026-11-25T22:00:00Z\": {}", t.error()), "until"}));
          return true;
        }
        until = *t;
      }
      o.suspended_until_ms = until;
    }
    if (!change_override(c.id, domain, o)) return true;
    ask_shards(c.id, AdminWait::Kind::one, domain, {});
    delivery_log_->admin(action, domain, c.key ? c.key->name : std::string(), &o);
    // An operator's reason (`ringpost ctl domain suspend --reason`) is for the log only.
    const std::string reason = json_string_field(req.body, "reason").value_or("");
    spdlog::info("admin: {} {}{}", action, domain, reason.empty() ? "" : " (" + reason + ")");
    return true;
  }
  if (action == "retry-now") {
    if (!need("POST")) return true;
    ask_shards(c.id, AdminWait::Kind::retry_now, domain, {});
    delivery_log_->admin("retry-now", domain, c.key ? c.key->name : std::string(), nullptr);
    spdlog::info("admin: retry-now {}", domain);
    return true;
  }
  if (action == "bounce-all") {
    if (!need("POST")) return true;
    std::string reason = json_string_field(req.body, "reason").value_or("bounced by the operator");
    // Published before the shards are asked, so a delivery between shards at this moment, or
    // one coming back from a transaction in flight, is bounced when it turns up.
    auto live = policies_.current();
    DomainOverride o;
    if (auto it = live->overrides.find(domain); it != live->overrides.end()) o = it->second;
    o.bounce_created_before_ms = now_ms();
    o.bounce_reason = reason;
    if (!change_override(c.id, domain, o)) return true;
    ask_shards(c.id, AdminWait::Kind::bounce_all, domain,
               smtp::Reply{550, "5.0.0", fmt::format("administratively bounced: {}", reason)});
    delivery_log_->admin("bounce-all", domain, c.key ? c.key->name : std::string(), &o);
    spdlog::info("admin: bounce-all {} ({})", domain, reason);
    return true;
  }
  respond(c.id, 404, error_json(404, "not_found", fmt::format("no route for {}", path)));
  return true;
}

bool Front::change_override(uint64_t conn_id, const std::string& domain, const DomainOverride& o) {
  auto next = std::make_shared<LivePolicy>(*policies_.current());
  if (o.empty()) next->overrides.erase(domain);
  else next->overrides[domain] = o;
  if (auto saved = save_overrides(overrides_path(), next->overrides); !saved) {
    spdlog::error("admin: cannot persist overrides: {}", saved.error());
    respond(conn_id, 503, error_json(503, "persist_failed", fmt::format("the change could not be saved: {}", saved.error())));
    return false;
  }
  policies_.publish(std::move(next));
  return true;
}

std::string Front::overrides_path() const { return cfg_.spool_dir + "/overrides.json"; }

void Front::ask_shards(uint64_t conn_id, AdminWait::Kind kind, std::string domain, smtp::Reply reply) {
  const uint64_t id = next_admin_id_++;
  AdminWait& w = admin_waits_[id];
  w.conn_id = conn_id;
  w.kind = kind;
  w.domain = domain;
  w.remaining = static_cast<uint32_t>(shards_.size());
  if (auto it = conns_.find(conn_id); it != conns_.end()) it->second->busy = true;
  using K = ShardCommand::Kind;
  const K k = kind == AdminWait::Kind::retry_now    ? K::retry_now
              : kind == AdminWait::Kind::bounce_all ? K::bounce_all
                                                    : K::snapshot;
  for (Shard* s : shards_) {
    s->control().push(ShardCommand{id, k, domain, reply});
    s->control().notify();
  }
}

void Front::on_shard_answers() {
  answer_batch_.clear();
  while (answers_.drain(answer_batch_)) {
    for (ShardAnswer& a : answer_batch_) {
      auto it = admin_waits_.find(a.request_id);
      if (it == admin_waits_.end()) continue;
      AdminWait& w = it->second;
      w.answers.push_back(std::move(a));
      if (--w.remaining > 0) continue;
      AdminWait done = std::move(w);
      admin_waits_.erase(it);
      if (auto c = conns_.find(done.conn_id); c != conns_.end()) c->second->busy = false;
      finish_admin(done);
      if (auto c = conns_.find(done.conn_id); c != conns_.end()) process(*c->second);
    }
    answer_batch_.clear();
  }
}

std::string Front::domain_json(const std::string& domain, const std::vector<ShardAnswer>& answers) const {
  auto live = policies_.current();
  const Site::Snapshot* site = nullptr;
  std::size_t waiting = 0;
  for (const ShardAnswer& a : answers) {
    for (const Site::Snapshot& s : a.sites)
      if (std::find(s.domains.begin(), s.domains.end(), domain) != s.domains.end()) site = &s;
    if (auto w = a.waiting_by_domain.find(domain); w != a.waiting_by_domain.end()) waiting += w->second;
  }
  // The limits in force: a site's are the strictest of its domains' (docs/shaping.md "Rollup"),
  // but for max_recipients_per_message, which each domain's envelopes are split by.
  DeliveryPolicy limits = live->effective(domain);
  if (site) {
    const auto per_message = limits.max_recipients_per_message;
    limits = site->limits;
    limits.max_recipients_per_message = per_message;
  }
  const int64_t now = now_ms();
  int64_t suspended = live->suspended_until_ms(domain);
  if (suspended <= now) suspended = 0;
  std::string out = "{\"domain\":";
  api::append_json_string(out, domain);
  out += ",\"site\":";
  if (site) api::append_json_string(out, site->site);
  else out += "null";
  out += fmt::format(R"(,"queued":{},"in_flight":{},"connections":{},"msgs_per_second_measured":{},"limits":{})",
                     waiting + (site ? site->queued : 0), site ? site->in_flight : 0, site ? site->connections : 0,
                     site ? site->measured_msgs_per_second : 0.0, limits_json(limits));
  out += fmt::format(R"(,"suspended_until":{},"throttled_until":{})",
                     json_time(std::max(suspended, site ? site->suspended_until_ms : 0)),
                     json_time(site ? site->throttled_until_ms : 0));
  if (site && site->throttled_until_ms) out += fmt::format(R"(,"throttled_msgs_per_second":{})", site->throttle_msgs_per_second);
  out += ",\"last_error\":";
  if (site && site->last_error.code) {
    // The reply object every other answer uses, with the time it was seen added.
    append_reply_json(out, site->last_error);
    out.pop_back();
    out += fmt::format(R"(,"at":{}}})", json_time(site->last_error_at_ms));
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

void Front::finish_admin(const AdminWait& w) {
  using K = AdminWait::Kind;
  std::size_t affected = 0;
  for (const ShardAnswer& a : w.answers) affected += a.affected;
  switch (w.kind) {
    // An action that found nothing to act on is not a success (docs/api.md "Admin errors").
    case K::retry_now:
      if (affected == 0)
        return respond(w.conn_id, 409, error_json(409, "nothing_to_retry",
                                                  fmt::format("{} has no recipient waiting for a retry", w.domain)));
      return respond(w.conn_id, 200, fmt::format(R"({{"domain":"{}","retried":{}}})", w.domain, affected));
    case K::bounce_all:
      if (affected == 0)
        return respond(w.conn_id, 409,
                       error_json(409, "nothing_to_bounce",
                                  fmt::format("{} has no queued or deferred recipient; one of a message created "
                                              "before now that turns up later is still bounced",
                                              w.domain)));
      return respond(w.conn_id, 200, fmt::format(R"({{"domain":"{}","bounced":{}}})", w.domain, affected));
    case K::one:
      return respond(w.conn_id, 200, domain_json(w.domain, w.answers));
    case K::list: {
      std::set<std::string> domains;
      for (const auto& [d, p] : cfg_.domains) domains.insert(d);
      for (const auto& [d, o] : policies_.current()->overrides) domains.insert(d);
      for (const ShardAnswer& a : w.answers) {
        for (const Site::Snapshot& s : a.sites) domains.insert(s.domains.begin(), s.domains.end());
        for (const auto& [d, n] : a.waiting_by_domain) domains.insert(d);
      }
      std::string out = "{\"domains\":[";
      bool first = true;
      for (const std::string& d : domains) {
        if (!first) out += ',';
        first = false;
        out += domain_json(d, w.answers);
      }
      out += "]}";
      return respond(w.conn_id, 200, out);
    }
  }
}

}  // namespace ringpost::engine
