// TOML → Config. Every error names the source, line and dotted key (toml++ gives us positions),
// and unknown keys are errors too: a typo in a throttle must not silently fall back to a default.
#include "engine/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>
// Errors as values, not exceptions: the caller turns them into one message naming file, line, key.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1  // Debian's compiled toml++ is built with exceptions; this TU uses its own copy.
#include <toml++/toml.h>
#include <re2/re2.h>
#include <re2/set.h>

#include "dkim/signing_key.h"
#include "queue/duration.h"
#include "queue/spool_record.h"
#include "queue/token_bucket.h"

namespace ringpost::engine {
namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool contains_name(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return ascii_lower(n) == ascii_lower(name); });
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  std::string where(const toml::node& node, std::string_view key) const {
    return fmt::format("{}:{}: key '{}'", source_, node.source().begin.line, key);
  }
  std::string where_table(const toml::table& t, std::string_view key) const {
    return fmt::format("{}:{}: key '{}'", source_, t.source().begin.line, key);
  }

  tl::expected<void, std::string> check_known(const toml::table& t, std::string_view prefix,
                                              const std::set<std::string_view>& known) const {
    for (auto&& [k, v] : t) {
      if (!known.count(k.str()))
        return tl::make_unexpected(fmt::format("{}: unknown key", where(v, join(prefix, k.str()))));
    }
    return {};
  }

  static std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

  tl::expected<void, std::string> read_string(const toml::table& t, std::string_view prefix, std::string_view key,
                                              std::string& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    auto v = n->value<std::string>();
    if (!v) return tl::make_unexpected(fmt::format("{}: expected a string", where(*n, join(prefix, key))));
    out = *v;
    return {};
  }

  template <typename Int>
  tl::expected<void, std::string> read_uint(const toml::table& t, std::string_view prefix, std::string_view key,
                                            Int& out, int64_t min, int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    auto v = n->value<int64_t>();
    if (!v || *v < min || *v > max)
      return tl::make_unexpected(
          fmt::format("{}: expected an integer from {} to {}", where(*n, join(prefix, key)), min, max));
    out = static_cast<Int>(*v);
    return {};
  }

  tl::expected<void, std::string> read_duration(const toml::table& t, std::string_view prefix, std::string_view key,
                                                std::chrono::milliseconds& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    auto s = n->value<std::string>();
    if (!s) return tl::make_unexpected(fmt::format("{}: expected a duration string like \"30s\"", where(*n, join(prefix, key))));
    auto d = queue::parse_duration(*s);
    if (!d) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, key)), d.error()));
    out = *d;
    return {};
  }

  // A number (per second) or a rate string: "300/min".
  tl::expected<void, std::string> read_rate(const toml::table& t, std::string_view prefix, std::string_view key,
                                            std::optional<double>& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    if (auto v = n->value<double>(); v && n->is_number()) {
      if (!(*v > 0)) return tl::make_unexpected(fmt::format("{}: expected a positive rate", where(*n, join(prefix, key))));
      out = *v;
      return {};
    }
    auto s = n->value<std::string>();
    if (!s) return tl::make_unexpected(fmt::format("{}: expected a number or a rate like \"300/min\"", where(*n, join(prefix, key))));
    auto r = queue::parse_rate(*s);
    if (!r) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, key)), r.error()));
    out = *r;
    return {};
  }

  // [[webhooks]] (docs/api.md "Webhooks").
  tl::expected<std::vector<WebhookConfig>, std::string> read_webhooks(const toml::node& n) const {
    const toml::array* arr = n.as_array();
    if (!arr) return tl::make_unexpected(fmt::format("{}: expected [[webhooks]] tables", where(n, "webhooks")));
    std::vector<WebhookConfig> hooks;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string prefix = fmt::format("webhooks[{}]", i);
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return tl::make_unexpected(fmt::format("{}: expected a table", where((*arr)[i], prefix)));
      if (auto r = check_known(*t, prefix, {"name", "url", "secret", "events", "batch"}); !r)
        return tl::make_unexpected(r.error());
      WebhookConfig h;
      h.name = fmt::format("webhook{}", i);
      if (auto r = read_string(*t, prefix, "name", h.name); !r) return tl::make_unexpected(r.error());
      if (auto r = read_string(*t, prefix, "url", h.url); !r) return tl::make_unexpected(r.error());
      const toml::node& url_node = t->get("url") ? *t->get("url") : static_cast<const toml::node&>(*t);
      if (!h.url.starts_with("http://"))
        return tl::make_unexpected(fmt::format("{}: expected \"http://host:port/path\" (https is not supported yet)",
                                               where(url_node, join(prefix, "url"))));
      std::string rest = h.url.substr(7);
      const auto slash = rest.find('/');
      if (slash != std::string::npos) {
        h.path = rest.substr(slash);
        rest = rest.substr(0, slash);
      }
      auto hp = parse_host_port(rest.find(':') == std::string::npos ? rest + ":80" : rest);
      if (!hp) return tl::make_unexpected(fmt::format("{}: {}", where(url_node, join(prefix, "url")), hp.error()));
      h.host = hp->host == "localhost" ? "127.0.0.1" : hp->host;
      h.port = hp->port;
      if (auto r = read_string(*t, prefix, "secret", h.secret); !r) return tl::make_unexpected(r.error());
      if (h.secret.size() < 16)
        return tl::make_unexpected(fmt::format("{}: key '{}.secret': at least 16 characters, to sign with",
                                               where(*t, prefix), prefix));
      if (const toml::node* ev = t->get("events")) {
        const toml::array* list = ev->as_array();
        static const std::set<std::string> kTypes{"accepted", "deferred", "delivered", "bounced", "expired"};
        if (!list) return tl::make_unexpected(fmt::format("{}: expected an array of event types", where(*ev, join(prefix, "events"))));
        for (auto&& item : *list) {
          auto v = item.value<std::string>();
          if (!v || !kTypes.count(*v))
            return tl::make_unexpected(fmt::format(
                "{}: expected accepted, deferred, delivered, bounced or expired", where(item, join(prefix, "events"))));
          h.events.push_back(*v);
        }
      }
      if (auto r = read_uint(*t, prefix, "batch", h.batch, 1, 1000); !r) return tl::make_unexpected(r.error());
      hooks.push_back(std::move(h));
    }
    return hooks;
  }

  // [log] (docs/delivery-log.md).
  tl::expected<void, std::string> read_log(const toml::node& n, LogConfig& out) const {
    const toml::table* t = n.as_table();
    if (!t) return tl::make_unexpected(fmt::format("{}: expected a table", where(n, "log")));
    if (auto r = check_known(*t, "log", {"level", "delivery_log", "delivery_log_max_bytes", "delivery_log_keep"}); !r)
      return r;
    if (auto r = read_string(*t, "log", "level", out.level); !r) return r;
    if (!is_log_level(out.level))
      return tl::make_unexpected(fmt::format("{}: expected trace, debug, info, warn, error, critical or off",
                                             where(*t->get("level"), "log.level")));
    if (auto r = read_string(*t, "log", "delivery_log", out.delivery_log); !r) return r;
    if (auto r = read_uint(*t, "log", "delivery_log_max_bytes", out.delivery_log_max_bytes, 0, int64_t(1) << 50); !r)
      return r;
    if (auto r = read_uint(*t, "log", "delivery_log_keep", out.delivery_log_keep, 1, 1000); !r) return r;
    // Relative to the config file's directory, like DKIM key files: a service's working
    // directory (/ under systemd) is not something an operator has in mind when writing it.
    if (!out.delivery_log.empty() && std::filesystem::path(out.delivery_log).is_relative())
      out.delivery_log = (std::filesystem::path(source_).parent_path() / out.delivery_log).string();
    return {};
  }

  // [[keys]]: API keys (docs/api.md "Keys").
  tl::expected<std::vector<ApiKey>, std::string> read_keys(const toml::node& n) const {
    const toml::array* arr = n.as_array();
    if (!arr) return tl::make_unexpected(fmt::format("{}: expected [[keys]] tables", where(n, "keys")));
    std::vector<ApiKey> keys;
    std::set<std::string> names;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string prefix = fmt::format("keys[{}]", i);
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return tl::make_unexpected(fmt::format("{}: expected a table", where((*arr)[i], prefix)));
      if (auto r = check_known(*t, prefix, {"name", "sha256", "allowed_from", "rate", "burst", "role"}); !r)
        return tl::make_unexpected(r.error());
      ApiKey k;
      if (auto r = read_string(*t, prefix, "name", k.name); !r) return tl::make_unexpected(r.error());
      if (k.name.empty() || !names.insert(k.name).second)
        return tl::make_unexpected(fmt::format("{}: key '{}.name': every key needs a unique name", where(*t, prefix), prefix));
      if (auto r = read_string(*t, prefix, "sha256", k.sha256_hex); !r) return tl::make_unexpected(r.error());
      std::transform(k.sha256_hex.begin(), k.sha256_hex.end(), k.sha256_hex.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (k.sha256_hex.size() != 64 || k.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos)
        return tl::make_unexpected(fmt::format(
            "{}: key '{}.sha256': expected 64 hex digits (the SHA-256 of the token; `ringpost key new` prints it)",
            where(t->get("sha256") ? *t->get("sha256") : static_cast<const toml::node&>(*t), prefix), prefix));
      if (const toml::node* af = t->get("allowed_from")) {
        const toml::array* list = af->as_array();
        if (!list) return tl::make_unexpected(fmt::format("{}: expected an array of domains", where(*af, join(prefix, "allowed_from"))));
        for (auto&& item : *list) {
          auto v = item.value<std::string>();
          if (!v || v->empty()) return tl::make_unexpected(fmt::format("{}: expected a domain", where(item, join(prefix, "allowed_from"))));
          std::string d = *v;
          std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          k.allowed_from.push_back(std::move(d));
        }
      }
      if (auto r = read_rate(*t, prefix, "rate", k.rate); !r) return tl::make_unexpected(r.error());
      if (auto r = read_uint(*t, prefix, "burst", k.burst, 1, 1000000); !r) return tl::make_unexpected(r.error());
      std::string role = "submit";
      if (auto r = read_string(*t, prefix, "role", role); !r) return tl::make_unexpected(r.error());
      if (role == "admin") k.role = ApiKey::Role::admin;
      else if (role != "submit")
        return tl::make_unexpected(fmt::format("{}: expected \"submit\" or \"admin\"", where(*t->get("role"), join(prefix, "role"))));
      keys.push_back(std::move(k));
    }
    return keys;
  }

  // [[rules]]: adaptive back-off (docs/shaping.md).
  tl::expected<std::vector<ResponseRule>, std::string> read_rules(const toml::node& n) const {
    const toml::array* arr = n.as_array();
    if (!arr) return tl::make_unexpected(fmt::format("{}: expected [[rules]] tables", where(n, "rules")));
    std::vector<ResponseRule> rules;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string prefix = fmt::format("rules[{}]", i);
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return tl::make_unexpected(fmt::format("{}: expected a table", where((*arr)[i], prefix)));
      if (auto r = check_known(*t, prefix, {"match", "action", "duration", "for", "msgs_per_second"}); !r)
        return tl::make_unexpected(r.error());
      ResponseRule rule;
      if (auto r = read_string(*t, prefix, "match", rule.match); !r) return tl::make_unexpected(r.error());
      if (rule.match.empty())
        return tl::make_unexpected(fmt::format("{}: key '{}.match': a rule needs a match pattern", where(*t, prefix), prefix));
      auto re = compile_rule_pattern(rule.match);
      if (!re)
        return tl::make_unexpected(fmt::format(
            "{}: not an RE2 regular expression (RE2 has no backreferences or lookaround): {}",
            where(*t->get("match"), join(prefix, "match")), re.error()));
      rule.regex = std::move(*re);
      std::string action = "suspend";
      if (auto r = read_string(*t, prefix, "action", action); !r) return tl::make_unexpected(r.error());
      if (action == "suspend") {
        rule.action = RuleAction::suspend;
        if (auto r = read_duration(*t, prefix, "duration", rule.duration); !r) return tl::make_unexpected(r.error());
      } else if (action == "throttle") {
        rule.action = RuleAction::throttle;
        rule.duration = std::chrono::minutes(30);
        if (auto r = read_duration(*t, prefix, "for", rule.duration); !r) return tl::make_unexpected(r.error());
        std::optional<double> rate;
        if (auto r = read_rate(*t, prefix, "msgs_per_second", rate); !r) return tl::make_unexpected(r.error());
        if (!rate)
          return tl::make_unexpected(fmt::format("{}: key '{}.msgs_per_second': a throttle rule needs a rate", where(*t, prefix), prefix));
        rule.msgs_per_second = *rate;
      } else {
        return tl::make_unexpected(fmt::format("{}: expected \"suspend\" or \"throttle\"", where(*t->get("action"), join(prefix, "action"))));
      }
      rules.push_back(std::move(rule));
    }
    return rules;
  }

  tl::expected<void, std::string> read_policy(const toml::table& t, std::string_view prefix, DeliveryPolicy& p,
                                              bool allow_route) const {
    static const std::set<std::string_view> kKnown{
        "max_connections", "max_msgs_per_connection", "retry",        "max_age",          "idle_timeout",
        "route",           "mx_port",                 "tls",          "tls_ca_file",      "chunking",
        "connect_timeout", "greeting_timeout",        "command_timeout", "mail_timeout",  "rcpt_timeout",
        "data_timeout",    "data_block_timeout",      "data_end_timeout", "msgs_per_second", "connections_per_second",
        "max_recipients_per_message", "initial_connections", "site_idle_evict"};
    if (auto r = check_known(t, prefix, kKnown); !r) return r;
    if (auto r = read_uint(t, prefix, "max_connections", p.max_connections, 1, 10000); !r) return r;
    if (auto r = read_uint(t, prefix, "max_msgs_per_connection", p.max_msgs_per_connection, 1, 1000000); !r) return r;
    if (auto r = read_uint(t, prefix, "mx_port", p.mx_port, 1, 65535); !r) return r;
    if (auto r = read_rate(t, prefix, "msgs_per_second", p.msgs_per_second); !r) return r;
    if (auto r = read_rate(t, prefix, "connections_per_second", p.connections_per_second); !r) return r;
    if (t.get("max_recipients_per_message")) {
      uint32_t n = 0;
      if (auto r = read_uint(t, prefix, "max_recipients_per_message", n, 1, 100000); !r) return r;
      p.max_recipients_per_message = n;
    }
    if (auto r = read_uint(t, prefix, "initial_connections", p.initial_connections, 1, 10000); !r) return r;
    if (auto r = read_duration(t, prefix, "max_age", p.max_age); !r) return r;
    const std::pair<const char*, std::chrono::milliseconds*> timeouts[] = {
        {"connect_timeout", &p.timeouts.connect}, {"greeting_timeout", &p.timeouts.greeting},
        {"command_timeout", &p.timeouts.command}, {"mail_timeout", &p.timeouts.mail},
        {"rcpt_timeout", &p.timeouts.rcpt},       {"data_timeout", &p.timeouts.data},
        {"data_block_timeout", &p.timeouts.data_block}, {"data_end_timeout", &p.timeouts.data_end}};
    for (auto [key, field] : timeouts)
      if (auto r = read_duration(t, prefix, key, *field); !r) return r;
    if (auto r = read_string(t, prefix, "tls_ca_file", p.tls_ca_file); !r) return r;
    if (const toml::node* n = t.get("chunking")) {
      auto v = n->value<bool>();
      if (!v) return tl::make_unexpected(fmt::format("{}: expected true or false", where(*n, join(prefix, "chunking"))));
      p.chunking = *v;
    }
    if (const toml::node* n = t.get("tls")) {
      static const std::pair<std::string_view, TlsPolicy> kModes[] = {{"off", TlsPolicy::off},
                                                                       {"opportunistic", TlsPolicy::opportunistic},
                                                                       {"required", TlsPolicy::required},
                                                                       {"verify", TlsPolicy::verify}};
      auto v = n->value<std::string>();
      auto it = std::find_if(std::begin(kModes), std::end(kModes), [&](auto& m) { return v && m.first == *v; });
      if (it == std::end(kModes))
        return tl::make_unexpected(fmt::format("{}: expected \"off\", \"opportunistic\", \"required\" or \"verify\"",
                                               where(*n, join(prefix, "tls"))));
      p.tls = it->second;
    }
    if (auto r = read_duration(t, prefix, "idle_timeout", p.idle_timeout); !r) return r;
    if (auto r = read_duration(t, prefix, "site_idle_evict", p.site_idle_evict); !r) return r;
    if (const toml::node* n = t.get("retry")) {
      const toml::array* arr = n->as_array();
      if (!arr || arr->empty())
        return tl::make_unexpected(fmt::format("{}: expected a non-empty array of durations", where(*n, join(prefix, "retry"))));
      p.retry.clear();
      for (auto&& item : *arr) {
        auto s = item.value<std::string>();
        auto d = s ? queue::parse_duration(*s) : tl::make_unexpected(std::string("expected a duration string"));
        if (!d) return tl::make_unexpected(fmt::format("{}: {}", where(item, join(prefix, "retry")), d.error()));
        p.retry.push_back(*d);
      }
    }
    if (const toml::node* n = t.get("route")) {
      if (!allow_route)
        return tl::make_unexpected(fmt::format("{}: route is only allowed in a [domains.\"...\"] section", where(*n, join(prefix, "route"))));
      auto s = n->value<std::string>();
      if (!s) return tl::make_unexpected(fmt::format("{}: expected \"host:port\"", where(*n, join(prefix, "route"))));
      auto hp = parse_host_port(*s);
      if (!hp) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, "route")), hp.error()));
      p.route = *hp;
    }
    return {};
  }

  tl::expected<void, std::string> read_bool(const toml::table& t, std::string_view prefix, std::string_view key,
                                            bool& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    auto v = n->value_exact<bool>();  // value<bool>() would take 0 and 1 too
    if (!v) return tl::make_unexpected(fmt::format("{}: expected true or false", where(*n, join(prefix, key))));
    out = *v;
    return {};
  }

  // An array of header field names usable in DKIM's h= (dkim::is_signable_header_name).
  tl::expected<std::vector<std::string>, std::string> read_header_names(const toml::node& n, const std::string& key,
                                                                        bool allow_empty) const {
    const toml::array* arr = n.as_array();
    if (!arr || (arr->empty() && !allow_empty))
      return tl::make_unexpected(fmt::format("{}: expected a{} array of header field names", where(n, key),
                                             allow_empty ? "n" : " non-empty"));
    std::vector<std::string> names;
    for (auto&& item : *arr) {
      auto v = item.value<std::string>();
      if (!v || !dkim::is_signable_header_name(*v))
        return tl::make_unexpected(fmt::format("{}: expected a header field name of letters, digits, '-' and '_'",
                                               where(item, key)));
      names.push_back(*v);
    }
    return names;
  }

  // One [dkim."domain"] table (or one element of [[dkim."domain"]]). The key file is read and
  // checked here, so a bad key stops start-up (or a SIGHUP reload) instead of a message.
  tl::expected<dkim::SignEntry, std::string> read_dkim_entry(const toml::table& t, const std::string& prefix,
                                                             const std::string& domain) const {
    if (auto r = check_known(t, prefix, {"selector", "key_file", "algorithm", "canonicalization", "headers",
                                         "oversign", "subdomains"});
        !r)
      return tl::make_unexpected(r.error());
    dkim::SignEntry e;
    e.domain = domain;
    e.origin = fmt::format("{}:{}", source_, t.source().begin.line);
    for (std::string_view required : {"selector", "key_file"})
      if (!t.get(required))
        return tl::make_unexpected(fmt::format("{}: required in every DKIM entry", where_table(t, join(prefix, required))));
    if (auto r = read_string(t, prefix, "selector", e.selector); !r) return tl::make_unexpected(r.error());
    if (!dkim::is_dns_name(e.selector))
      return tl::make_unexpected(fmt::format("{}: '{}' is not a DNS label such as \"s2024\"",
                                             where(*t.get("selector"), join(prefix, "selector")), e.selector));
    std::optional<dkim::Algorithm> algorithm;
    if (const toml::node* n = t.get("algorithm")) {
      auto v = n->value<std::string>();
      auto a = v ? dkim::parse_algorithm(*v) : tl::make_unexpected(std::string("expected a string"));
      if (!a) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, "algorithm")), a.error()));
      algorithm = *a;
    }
    if (const toml::node* n = t.get("canonicalization")) {
      auto v = n->value<std::string>();
      auto c = v ? dkim::parse_canonicalization(*v) : tl::make_unexpected(std::string("expected a string"));
      if (!c) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, "canonicalization")), c.error()));
      e.canon = *c;
    }
    e.headers = dkim::default_signed_headers();
    if (const toml::node* n = t.get("headers")) {
      auto names = read_header_names(*n, join(prefix, "headers"), false);
      if (!names) return tl::make_unexpected(names.error());
      if (!contains_name(*names, "From"))
        return tl::make_unexpected(fmt::format("{}: must include \"From\" (RFC 6376 §5.4)", where(*n, join(prefix, "headers"))));
      e.headers = std::move(*names);
    }
    // Default over-signing covers only what is signed; an explicit list must be a subset.
    for (const std::string& name : dkim::default_oversigned_headers())
      if (contains_name(e.headers, name)) e.oversign.push_back(name);
    if (const toml::node* n = t.get("oversign")) {
      auto names = read_header_names(*n, join(prefix, "oversign"), true);
      if (!names) return tl::make_unexpected(names.error());
      for (const std::string& name : *names)
        if (!contains_name(e.headers, name))
          return tl::make_unexpected(fmt::format("{}: '{}' is not in headers; only signed fields can be over-signed",
                                                 where(*n, join(prefix, "oversign")), name));
      e.oversign = std::move(*names);
    }
    if (auto r = read_bool(t, prefix, "subdomains", e.subdomains); !r) return tl::make_unexpected(r.error());

    const toml::node* kf = t.get("key_file");
    std::string key_file;
    if (auto r = read_string(t, prefix, "key_file", key_file); !r) return tl::make_unexpected(r.error());
    // Relative to the config file's directory, so a config and its keys can move together.
    std::filesystem::path path(key_file);
    if (path.is_relative()) path = std::filesystem::path(source_).parent_path() / path;
    auto key = dkim::load_signing_key(path.string());
    if (!key) return tl::make_unexpected(fmt::format("{}: {}", where(*kf, join(prefix, "key_file")), key.error()));
    if (algorithm && *algorithm != key->algorithm)
      return tl::make_unexpected(fmt::format("{}: {} holds an {} key, but algorithm is \"{}\"", where(*kf, join(prefix, "key_file")),
                                             path.string(), key->algorithm == dkim::Algorithm::rsa_sha256 ? "RSA" : "Ed25519",
                                             dkim::to_string(*algorithm)));
    e.key = std::make_shared<const dkim::SigningKey>(std::move(*key));
    return e;
  }

  // [dkim."example.test"] (one signature) or [[dkim."example.test"]] (one per element: dual
  // signing, key rotation). Domains are lower-cased; a selector appears once per domain.
  tl::expected<void, std::string> read_dkim(const toml::node& root_node, std::vector<dkim::SignEntry>& out) const {
    const toml::table* domains = root_node.as_table();
    if (!domains)
      return tl::make_unexpected(fmt::format(
          "{}: expected [dkim.\"example.test\"] or [[dkim.\"example.test\"]] sections, one per signing domain",
          where(root_node, "dkim")));
    for (auto&& [name, node] : *domains) {
      const std::string key = fmt::format("dkim.\"{}\"", name.str());
      std::string domain = ascii_lower(name.str());
      if (domain.ends_with('.')) domain.pop_back();
      if (!dkim::is_dns_name(domain))
        return tl::make_unexpected(fmt::format("{}: '{}' is not a domain name", where(node, key), name.str()));
      std::vector<const toml::table*> tables;
      std::vector<std::string> prefixes;
      if (const toml::table* t = node.as_table()) {
        tables.push_back(t);
        prefixes.push_back(key);
      } else if (const toml::array* arr = node.as_array(); arr && !arr->empty() && arr->is_array_of_tables()) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          tables.push_back(arr->get(i)->as_table());
          prefixes.push_back(fmt::format("{}[{}]", key, i));
        }
      } else {
        return tl::make_unexpected(fmt::format("{}: expected a table ([{}]) or an array of tables ([[{}]])",
                                               where(node, key), key, key));
      }
      for (std::size_t i = 0; i < tables.size(); ++i) {
        auto e = read_dkim_entry(*tables[i], prefixes[i], domain);
        if (!e) return tl::make_unexpected(e.error());
        for (const dkim::SignEntry& prev : out)
          if (prev.domain == e->domain && ascii_lower(prev.selector) == ascii_lower(e->selector))
            return tl::make_unexpected(fmt::format("{}: selector '{}' is already configured for {} at {}",
                                                   where(*tables[i]->get("selector"), join(prefixes[i], "selector")),
                                                   e->selector, domain, prev.origin));
        out.push_back(std::move(*e));
      }
    }
    return {};
  }

 private:
  std::string source_;
};

tl::expected<Config, std::string> build(const toml::table& root, const std::string& source) {
  Reader rd(source);
  Config cfg;
  if (auto r = rd.check_known(root, "", {"server", "dns", "spool", "defaults", "domains", "dkim", "rules", "keys", "webhooks", "api", "log", "limits", "delivery"}); !r) return tl::make_unexpected(r.error());

  if (const toml::table* s = root["server"].as_table()) {
    if (auto r = rd.check_known(*s, "server", {"http_listen", "threads", "signing_threads", "signing_queue_messages", "signing_queue_bytes", "spool_dir", "hostname", "max_request_bytes", "require_dkim", "admin_token", "request_timeout", "drain_timeout", "metrics_top_sites"}); !r)
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
    if (auto r = rd.check_known(*d, "dns", {"servers", "timeout", "attempts", "min_ttl", "max_ttl", "negative_ttl", "prefer_ipv6"}); !r)
      return tl::make_unexpected(r.error());
    for (auto [key, field] : {std::pair{"timeout", &cfg.dns.timeout}, std::pair{"min_ttl", &cfg.dns.min_ttl},
                              std::pair{"max_ttl", &cfg.dns.max_ttl}, std::pair{"negative_ttl", &cfg.dns.negative_ttl}})
      if (auto r = rd.read_duration(*d, "dns", key, *field); !r) return tl::make_unexpected(r.error());
    if (auto r = rd.read_uint(*d, "dns", "attempts", cfg.dns.attempts, 1, 10); !r) return tl::make_unexpected(r.error());
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

const DeliveryPolicy& Config::policy_for(const std::string& domain) const {
  auto it = domains.find(domain);
  return it == domains.end() ? defaults : it->second;
}

std::vector<ResponseRule> default_rules() {
  // What the big receivers say when a sender goes too fast (Gmail 421 4.7.28 / 4.7.0, Yahoo
  // 421 4.7.0 [TSS04], Microsoft 451 4.7.500 / 452 4.5.3, generic "rate limit", "too many"):
  // slow that destination down for a while rather than hammer it. A plain 421 ("try again
  // later", "service not available": RFC 5321 §3.8's own wording for a server closing the
  // channel) is not such a request: it follows the retry schedule like any 4xx. A default
  // that suspended on it parked whole sites for a minute on every busy greeting (issue 20).
  auto rule = [](std::string match, RuleAction action, std::chrono::milliseconds d, double rate) {
    auto re = compile_rule_pattern(match);
    if (!re) throw std::logic_error(fmt::format("default rule '{}': {}", match, re.error()));  // a bug here, not in a file
    return ResponseRule{std::move(match), std::move(*re), action, d, rate};
  };
  return {
      // Not a bare "too many": "421 too many messages on this connection" is a per-connection
      // limit (max_msgs_per_connection answers it), not a reason to slow the whole site down.
      rule("^4[0-9][0-9] .*(rate limit|rate-limit|throttl|unusual rate|sending rate|rate exceeded|slow down|"
           "too many (messages|emails|mails|recipients) (from|sent|in the last)|per (hour|minute|day) limit|TSS0[0-9])",
           RuleAction::throttle, std::chrono::minutes(10), 1),
  };
}

namespace {
RE2::Options rule_options() {
  RE2::Options o;
  o.set_case_sensitive(false);
  // Reply text is whatever bytes a server sent, not necessarily UTF-8; in UTF-8 mode `.` would
  // not step over a stray 8-bit byte and `.*try again later` would miss. std::regex (before
  // RE2) matched bytes as well.
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_never_capture(true);  // only "does it match": lets RE2 answer with its DFA alone
  o.set_log_errors(false);    // errors go into the config message, not to stderr
  return o;
}
}  // namespace

tl::expected<std::shared_ptr<const re2::RE2>, std::string> compile_rule_pattern(std::string_view pattern) {
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), rule_options());
  if (!re->ok()) return tl::make_unexpected(re->error());
  return re;
}

struct ResponseRules::Set {
  RE2::Set set{rule_options(), RE2::UNANCHORED};  // a pattern's own `^` still anchors it
};

ResponseRules::ResponseRules(std::vector<ResponseRule> rules) : rules_(std::move(rules)) {
  if (rules_.empty()) return;
  auto s = std::make_shared<Set>();
  // Set indexes are the order of Add(): index i is rules_[i]. A rule without a compiled
  // pattern (built by hand, not by the loader) leaves the set out: rule by rule skips it.
  for (const ResponseRule& r : rules_)
    if (!r.regex || s->set.Add(r.match, nullptr) < 0) return;
  if (!s->set.Compile()) return;
  set_ = std::move(s);
}

const ResponseRule* ResponseRules::first_match_one_by_one(std::string_view window) const {
  const re2::StringPiece text(window.data(), window.size());
  for (const ResponseRule& rule : rules_)
    if (rule.regex && RE2::PartialMatch(text, *rule.regex)) return &rule;
  return nullptr;
}

const ResponseRule* ResponseRules::first_match(std::string_view line) const {
  const std::string_view window = line.substr(0, kRuleMatchBytes);
  if (!set_) return first_match_one_by_one(window);
  std::vector<int> hits;  // allocates only when something matched
  RE2::Set::ErrorInfo error{RE2::Set::kNoError};
  if (set_->set.Match(re2::StringPiece(window.data(), window.size()), &hits, &error) && !hits.empty())
    return &rules_[static_cast<std::size_t>(*std::min_element(hits.begin(), hits.end()))];  // file order decides
  if (error.kind == RE2::Set::kNoError) return nullptr;
  // The set's DFA ran out of its memory budget on this text (many large patterns): the rules
  // one by one still answer, each within its own budget.
  return first_match_one_by_one(window);
}

const ResponseRule* ResponseRules::first_match(int code, std::string_view enhanced, std::string_view text) const {
  char buf[kRuleMatchBytes];
  // format_to_n writes at most sizeof buf bytes and reports the size it would have needed; the
  // text is cut first so a 4 KiB reply is not even walked past the window.
  const auto out = fmt::format_to_n(buf, sizeof buf, "{} {} {}", code, enhanced, text.substr(0, kRuleMatchBytes));
  return first_match(std::string_view(buf, std::min(out.size, sizeof buf)));
}

namespace {
uint32_t cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}
}  // namespace

bool is_log_level(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return std::find(std::begin(kLevels), std::end(kLevels), level) != std::end(kLevels);
}

uint32_t Config::shard_count() const { return threads ? threads : cores(); }
uint32_t Config::signing_thread_count() const { return signing_threads ? signing_threads : cores(); }

tl::expected<HostPort, std::string> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close == 1 || close + 1 >= text.size() || text[close + 1] != ':')
      return tl::make_unexpected(fmt::format("'{}' is not \"[ipv6]:port\"", text));
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return tl::make_unexpected(fmt::format("'{}' is not \"host:port\"", text));
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit))
    return tl::make_unexpected(fmt::format("'{}' has no valid port", text));
  unsigned long p = std::stoul(std::string(port));
  if (p > 65535) return tl::make_unexpected(fmt::format("port {} in '{}' is out of range", p, text));
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

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
