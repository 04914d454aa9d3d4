// Config's own logic: policy lookup, the [[rules]] matcher, and small parsers shared with the
// rest of the engine. Reading the TOML is config_load.cc's.
#include "engine/config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include <re2/re2.h>
#include <re2/set.h>

namespace ringpost::engine {

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

}  // namespace ringpost::engine
