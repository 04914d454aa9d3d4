// The TOML reader behind load_config_*: typed reads that name the source, line and dotted key
// in every error, and one reader per section (defined in the read_*_sections.cc files beside
// this one, so no file holds the whole schema). Private to engine/config/.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <tl/expected.hpp>
// Errors as values, not exceptions: the caller turns them into one message naming file, line, key.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1  // Debian's compiled toml++ is built with exceptions; these TUs use their own copy.
#include <toml++/toml.h>

#include "dkim/signing_key.h"
#include "engine/config/config.h"
#include "queue/duration.h"
#include "queue/token_bucket.h"

namespace ringpost::engine::config_detail {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

inline bool contains_name(const std::vector<std::string>& names, std::string_view name) {
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

  // [[webhooks]] (docs/api.md "Webhooks").
  tl::expected<std::vector<WebhookConfig>, std::string> read_webhooks(const toml::node& n) const;

  // [log] (docs/delivery-log.md).
  tl::expected<void, std::string> read_log(const toml::node& n, LogConfig& out) const;

  // [[keys]]: API keys (docs/api.md "Keys").
  tl::expected<std::vector<ApiKey>, std::string> read_keys(const toml::node& n) const;

  // [[rules]]: adaptive back-off (docs/shaping.md).
  tl::expected<std::vector<ResponseRule>, std::string> read_rules(const toml::node& n) const;

  tl::expected<void, std::string> read_policy(const toml::table& t, std::string_view prefix, DeliveryPolicy& p,
                                              bool allow_route) const;

  // One [dkim."domain"] table (or one element of [[dkim."domain"]]). The key file is read and
  // checked here, so a bad key stops start-up (or a SIGHUP reload) instead of a message.
  tl::expected<dkim::SignEntry, std::string> read_dkim_entry(const toml::table& t, const std::string& prefix,
                                                             const std::string& domain) const;

  // [dkim."example.test"] (one signature) or [[dkim."example.test"]] (one per element: dual
  // signing, key rotation). Domains are lower-cased; a selector appears once per domain.
  tl::expected<void, std::string> read_dkim(const toml::node& root_node, std::vector<dkim::SignEntry>& out) const;

 private:
  std::string source_;
};

}  // namespace ringpost::engine::config_detail
