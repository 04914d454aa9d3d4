// The sections that shape delivery: [[rules]] and one delivery policy ([defaults], [domains."d"]).
#include "engine/config/toml_reader.h"


namespace ringpost::engine::config_detail {

// [[rules]]: adaptive back-off (docs/shaping.md).
tl::expected<std::vector<ResponseRule>, std::string> Reader::read_rules(const toml::node& n) const {
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

tl::expected<void, std::string> Reader::read_policy(const toml::table& t, std::string_view prefix, DeliveryPolicy& p,
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

}  // namespace ringpost::engine::config_detail
