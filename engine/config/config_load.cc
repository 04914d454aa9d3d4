// TOML → Config. Every error names the source, line and dotted key (toml++ gives us positions),
// and unknown keys are errors too: a typo in a throttle must not silently fall back to a default.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/config/config.h"
#include "engine/config/toml_reader.h"
#include "queue/spool_record.h"

namespace ringpost::engine {
namespace {

using config_detail::Reader;

tl::expected<Config, std::string> build(const toml::table& root, const std::string& source) {
  Reader rd(source);
  Config cfg;
  if (auto r = rd.check_known(root, "", {"server", "dns", "spool", "defaults", "domains", "dkim", "rules", "keys", "webhooks", "api", "log", "limits", "delivery"}); !r) return tl::make_unexpected(r.error());

  if (const toml::table* s = root["server"].as_table()) {
    if (auto r = rd.check_known(*s, "server", {"http_listen", "threads", "signing_threads", "signing_queue_messages", "signing_queue_bytes", "spool_dir", "hostname", "max_request_bytes", "require_dkim", "admin_token", "request_timeout", "drain_timeout", "metrics_top_sites", "header_timeout", "idle_timeout", "max_output_bytes", "max_connections"}); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_bool(*s, "server", "require_dkim", cfg.require_dkim); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_string(*s, "server", "http_listen", cfg.http_listen); !r) return tl::make_unexpected(r.error());
    if (auto hp = parse_host_port(cfg.http_listen); !hp)
      return tl::make_unexpected(fmt::format("{}: {}", rd.where(*s->get("http_listen"), "server.http_listen"), hp.error()));
    if (auto r = rd.read_uint(*s, "server", "threads", cfg.threads, 0, 1024); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "signing_threads", cfg.signing_threads, 0, 1024); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "signing_queue_messages", cfg.signing_queue_messages, 1, 100000000); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "signing_queue_bytes", cfg.signing_queue_bytes, 1024, int64_t(1) << 40); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_string(*s, "server", "spool_dir", cfg.spool_dir); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_string(*s, "server", "admin_token", cfg.admin_token); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*s, "server", "request_timeout", cfg.request_timeout); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*s, "server", "drain_timeout", cfg.drain_timeout); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*s, "server", "header_timeout", cfg.header_timeout); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*s, "server", "idle_timeout", cfg.idle_timeout); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "max_output_bytes", cfg.max_output_bytes, 1024, int64_t(1) << 32); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "max_connections", cfg.max_connections, 1, 10'000'000); !r)
      return tl::make_unexpected(r.error());
    for (auto [key, value] : {std::pair{"header_timeout", cfg.header_timeout}, std::pair{"idle_timeout", cfg.idle_timeout}})
      if (value.count() <= 0)
        return tl::make_unexpected(fmt::format("{}: must be longer than 0s", rd.where(*s->get(key), std::string("server.") + key)));
    if (auto r = rd.read_uint(*s, "server", "metrics_top_sites", cfg.metrics_top_sites, 0, 100000); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_string(*s, "server", "hostname", cfg.hostname); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*s, "server", "max_request_bytes", cfg.max_request_bytes, 1024, int64_t(1) << 32); !r)
      return tl::make_unexpected(r.error());
  }
  // [api] (docs/api.md "Limits"). A message is spooled as one record, rendered: base64 makes
  // content 78/57 as large, so 5/8 of the record limit leaves room for that and the headers.
  if (const toml::node* an = root.get("api")) {
    const toml::table* a = an->as_table();
    if (!a) return tl::make_unexpected(fmt::format("{}: expected a table", rd.where(*an, "api")));
    if (auto r = rd.check_known(*a, "api", {"max_message_bytes", "max_recipients_per_message", "max_batch_messages",
                                            "allow_address_literals"}); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_bool(*a, "api", "allow_address_literals", cfg.api.allow_address_literals); !r)
      return tl::make_unexpected(r.error());
    constexpr auto kMaxContent = static_cast<int64_t>(queue::kMaxRecordPayload / 8 * 5);
    if (auto r = rd.read_uint(*a, "api", "max_message_bytes", cfg.api.max_message_bytes, 1024, kMaxContent); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*a, "api", "max_recipients_per_message", cfg.api.max_recipients, 1, 100000); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*a, "api", "max_batch_messages", cfg.api.max_batch, 1, 100000); !r)
      return tl::make_unexpected(r.error());
  }
  // [limits] (docs/security.md).
  if (const toml::node* ln = root.get("limits")) {
    const toml::table* l = ln->as_table();
    if (!l) return tl::make_unexpected(fmt::format("{}: expected a table", rd.where(*ln, "limits")));
    if (auto r = rd.check_known(*l, "limits", {"status_max_messages", "status_max_bytes", "idempotency_max_keys",
                                               "idempotency_max_bytes", "stored_reply_bytes", "event_feed_max",
                                               "auth_failures_per_minute", "auth_throttle_max_sources"}); !r)
      return tl::make_unexpected(r.error());
    LimitsConfig& L = cfg.limits;
    constexpr int64_t kHuge = int64_t(1) << 50;
    for (auto r : {rd.read_uint(*l, "limits", "status_max_messages", L.status_max_messages, 1, kHuge),
                   rd.read_uint(*l, "limits", "status_max_bytes", L.status_max_bytes, 1024, kHuge),
                   rd.read_uint(*l, "limits", "idempotency_max_keys", L.idempotency_max_keys, 1, kHuge),
                   rd.read_uint(*l, "limits", "idempotency_max_bytes", L.idempotency_max_bytes, 1024, kHuge),
                   rd.read_uint(*l, "limits", "stored_reply_bytes", L.stored_reply_bytes, 64, 65536),
                   rd.read_uint(*l, "limits", "event_feed_max", L.event_feed_max, 100, kHuge),
                   rd.read_uint(*l, "limits", "auth_failures_per_minute", L.auth_failures_per_minute, 0, 1000000),
                   rd.read_uint(*l, "limits", "auth_throttle_max_sources", L.auth_throttle_max_sources, 1, 10000000)})
      if (!r) return tl::make_unexpected(r.error());
  }
  // [delivery] (docs/security.md "Destinations").
  if (const toml::node* dn = root.get("delivery")) {
    const toml::table* d = dn->as_table();
    if (!d) return tl::make_unexpected(fmt::format("{}: expected a table", rd.where(*dn, "delivery")));
    if (auto r = rd.check_known(*d, "delivery", {"blocked_networks"}); !r) return tl::make_unexpected(r.error());
    if (const toml::node* bn = d->get("blocked_networks")) {
      const toml::array* list = bn->as_array();
      if (!list) return tl::make_unexpected(fmt::format("{}: expected an array of networks like \"10.0.0.0/8\"", rd.where(*bn, "delivery.blocked_networks")));
      cfg.delivery.blocked_networks.clear();
      for (const toml::node& item : *list) {
        auto text = item.value<std::string>();
        if (!text) return tl::make_unexpected(fmt::format("{}: expected a network string like \"10.0.0.0/8\"", rd.where(item, "delivery.blocked_networks")));
        auto c = parse_cidr(*text);
        if (!c) return tl::make_unexpected(fmt::format("{}: {}", rd.where(item, "delivery.blocked_networks"), c.error()));
        cfg.delivery.blocked_networks.push_back(std::move(*c));
      }
    }
  }
  // Set explicitly, max_request_bytes is the operator's word, even below what the content limit needs.
  if (const toml::table* s = root["server"].as_table(); !s || !s->get("max_request_bytes"))
    cfg.max_request_bytes = request_bytes_for(cfg.api.max_message_bytes);
  if (const toml::node* wn = root.get("webhooks")) {
    auto hooks = rd.read_webhooks(*wn);
    if (!hooks) return tl::make_unexpected(hooks.error());
    cfg.webhooks = std::move(*hooks);
  }
  if (const toml::node* kn = root.get("keys")) {
    auto keys = rd.read_keys(*kn);
    if (!keys) return tl::make_unexpected(keys.error());
    cfg.keys = std::move(*keys);
  }
  if (const toml::node* rn = root.get("rules")) {
    auto rules = rd.read_rules(*rn);
    if (!rules) return tl::make_unexpected(rules.error());
    cfg.rules = std::move(*rules);
  }
  if (const toml::table* sp = root["spool"].as_table()) {
    if (auto r = rd.check_known(*sp, "spool", {"segment_bytes", "status_retention", "webhook_hold"}); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*sp, "spool", "segment_bytes", cfg.spool.segment_bytes, 65536, int64_t(1) << 40); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*sp, "spool", "status_retention", cfg.spool.status_retention); !r)
      return tl::make_unexpected(r.error());
    if (auto r = rd.read_duration(*sp, "spool", "webhook_hold", cfg.spool.webhook_hold); !r)
      return tl::make_unexpected(r.error());
  }
  if (const toml::node* ln = root.get("log")) {
    if (auto r = rd.read_log(*ln, cfg.log); !r) return tl::make_unexpected(r.error());
  }
  if (const toml::table* d = root["dns"].as_table()) {
    if (auto r = rd.check_known(*d, "dns", {"servers", "timeout", "attempts", "min_ttl", "max_ttl", "negative_ttl", "prefer_ipv6", "max_lookups_in_flight"}); !r)
      return tl::make_unexpected(r.error());
    for (auto [key, field] : {std::pair{"timeout", &cfg.dns.timeout}, std::pair{"min_ttl", &cfg.dns.min_ttl},
                              std::pair{"max_ttl", &cfg.dns.max_ttl}, std::pair{"negative_ttl", &cfg.dns.negative_ttl}})
      if (auto r = rd.read_duration(*d, "dns", key, *field); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*d, "dns", "attempts", cfg.dns.attempts, 1, 10); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*d, "dns", "max_lookups_in_flight", cfg.dns.max_lookups_in_flight, 1, 65536); !r)
      return tl::make_unexpected(r.error());
    if (const toml::node* n = d->get("prefer_ipv6")) {
      auto v = n->value<bool>();
      if (!v) return tl::make_unexpected(fmt::format("{}: expected true or false", rd.where(*n, "dns.prefer_ipv6")));
      cfg.dns.prefer_ipv6 = *v;
    }
    if (const toml::node* n = d->get("servers")) {
      const toml::array* arr = n->as_array();
      if (!arr) return tl::make_unexpected(fmt::format("{}: expected an array of \"host:port\"", rd.where(*n, "dns.servers")));
      for (auto&& item : *arr) {
        auto s = item.value<std::string>();
        auto hp = s ? parse_host_port(*s) : tl::make_unexpected(std::string("expected a \"host:port\" string"));
        if (!hp) return tl::make_unexpected(fmt::format("{}: {}", rd.where(item, "dns.servers"), hp.error()));
        cfg.dns.servers.push_back(*hp);
      }
    }
  }
  if (const toml::table* d = root["defaults"].as_table()) {
    if (auto r = rd.read_policy(*d, "defaults", cfg.defaults, false); !r) return tl::make_unexpected(r.error());
  }
  if (const toml::node* dn = root.get("domains")) {
    const toml::table* domains = dn->as_table();
    if (!domains) return tl::make_unexpected(fmt::format("{}: expected a table", rd.where(*dn, "domains")));
    for (auto&& [name, node] : *domains) {
      std::string key = fmt::format("domains.\"{}\"", name.str());
      const toml::table* t = node.as_table();
      if (!t) return tl::make_unexpected(fmt::format("{}: expected a table", rd.where(node, key)));
      DeliveryPolicy p = cfg.defaults;  // a domain section only overrides what it names
      if (auto r = rd.read_policy(*t, key, p, true); !r) return tl::make_unexpected(r.error());
      std::string lower(name.str());
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      cfg.domains[lower] = std::move(p);
    }
  }
  if (const toml::node* dn = root.get("dkim")) {
    if (auto r = rd.read_dkim(*dn, cfg.dkim); !r) return tl::make_unexpected(r.error());
  }
  return cfg;
}

}  // namespace

tl::expected<Config, std::string> load_config_string(std::string_view text, const std::string& source_name) {
  toml::parse_result result = toml::parse(text, source_name);
  if (!result) {
    const auto& err = result.error();
    return tl::make_unexpected(
        fmt::format("{}:{}:{}: {}", source_name, err.source().begin.line, err.source().begin.column, err.description()));
  }
  return build(result.table(), source_name);
}

tl::expected<Config, std::string> load_config_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return tl::make_unexpected(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  auto cfg = load_config_string(text, path);
  if (cfg) cfg->source = path;
  return cfg;
}

}  // namespace ringpost::engine
