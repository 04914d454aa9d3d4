// The sections that configure the HTTP side: [[webhooks]], [log], [[keys]].
#include "engine/config/toml_reader.h"

#include <filesystem>

namespace ringpost::engine::config_detail {

// [[webhooks]] (docs/api.md "Webhooks").
tl::expected<std::vector<WebhookConfig>, std::string> Reader::read_webhooks(const toml::node& n) const {
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
tl::expected<void, std::string> Reader::read_log(const toml::node& n, LogConfig& out) const {
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
tl::expected<std::vector<ApiKey>, std::string> Reader::read_keys(const toml::node& n) const {
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

}  // namespace ringpost::engine::config_detail
