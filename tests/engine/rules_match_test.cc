// Back-off rules ([[rules]], docs/shaping.md) against replies a hostile server could send:
// RE2 syntax checked at load, linear-time matching of 4 KiB of crafted text, and the 512-byte
// window (a pattern that only occurs past it never fires).
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/config/config.h"

namespace ringpost::engine {
namespace {

ResponseRules rules_from(const std::string& toml) {
  auto c = load_config_string(toml, "rules.toml");
  EXPECT_TRUE(c) << c.error();
  return c ? c->rules : ResponseRules{};
}

std::string suspend_rule(const std::string& match) {
  return "[[rules]]\nmatch = '" + match + "'\naction = \"suspend\"\nduration = \"1m\"\n";
}

TEST(RulesMatch, HostileRepliesAreMatchedCorrectlyByTheDefaults) {
  const ResponseRules rules = default_rules();
  // 4 KiB of one letter after a prefix that passes the `^4[0-9][0-9] ` anchor.
  EXPECT_EQ(rules.first_match(421, "4.7.0", std::string(4086, 'a')), nullptr);
  // Near-misses of every alternative, repeated over 4 KiB: still no rule.
  std::string near;
  while (near.size() < 4086) near += "rate limi throtl too many messages frmo try again late TSS0x ";
  EXPECT_EQ(rules.first_match(421, "4.7.0", near), nullptr);
  // The real phrase after the same hostile text, inside the window: found.
  const ResponseRule* r = rules.first_match(421, "4.7.0", std::string(300, 'a') + " rate limit exceeded");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->action, RuleAction::throttle);
  // Case-insensitive, and a byte that is not UTF-8 does not hide the phrase from `.*`.
  r = rules.first_match(451, "4.7.500", "Server busy \xff\xfe RATE LIMIT exceeded");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->action, RuleAction::throttle);
}

TEST(RulesMatch, NestedQuantifiersOverFourKibibytesFinishAndAnswerRight) {
  // Catastrophic for a backtracking engine (std::regex needs 2^n steps or overflows its
  // stack); RE2 is linear in the text.
  const ResponseRules rules = rules_from(suspend_rule("^421 4.7.0 (a+)+$") + suspend_rule("(a|aa)*c"));
  ASSERT_EQ(rules.size(), 2u);
  std::string text(4086, 'a');
  EXPECT_EQ(rules.first_match(450, "4.7.0", text), nullptr) << "the code does not match the first rule";
  text.back() = '!';
  // Only the first 512 bytes are seen, all 'a' after the prefix, so `(a+)+$` matches at the
  // window's end, whatever follows it in the reply.
  EXPECT_EQ(rules.first_match(421, "4.7.0", text), &rules[0]);
  EXPECT_EQ(rules.first_match(450, "4.7.0", std::string(500, 'a') + "c"), &rules[1]);
  EXPECT_EQ(rules.first_match(450, "4.7.0", std::string(4086, 'a') + "c"), nullptr);
}

TEST(RulesMatch, OnlyTheFirst512BytesOfTheReplyLineAreConsidered) {
  const ResponseRules rules = rules_from(suspend_rule("needle"));
  ASSERT_EQ(rules.size(), 1u);
  const std::string prefix = "421 4.7.0 ";  // 10 bytes of the line before the text
  ASSERT_EQ(kRuleMatchBytes, 512u);
  // "needle" ending exactly at byte 512 of "<code> <enhanced> <text>": matched.
  const std::string last_in = std::string(kRuleMatchBytes - prefix.size() - 6, 'x') + "needle";
  EXPECT_EQ(rules.first_match(421, "4.7.0", last_in), &rules[0]);
  EXPECT_EQ(rules.first_match(prefix + last_in), &rules[0]);
  // One byte later it straddles the cut: not matched.
  const std::string straddles = "x" + last_in;
  EXPECT_EQ(rules.first_match(421, "4.7.0", straddles), nullptr);
  EXPECT_EQ(rules.first_match(prefix + straddles), nullptr);
  // Well past it, at the end of a 4 KiB reply: not matched either.
  EXPECT_EQ(rules.first_match(421, "4.7.0", std::string(4000, 'x') + "needle"), nullptr);
  // A longer enhanced code moves the text's start: the window is over the whole line.
  EXPECT_EQ(rules.first_match(421, "4.7.500", last_in), nullptr);
}

TEST(RulesMatch, PatternsRe2CannotRunAreRefusedWithFileLineAndKey) {
  for (const std::string pattern : {"(a)\\\\1", "try(?=again)", "(?<=421 )later", "(?!x)y"}) {
    auto c = load_config_string("[server]\n\n[[rules]]\naction = \"suspend\"\nmatch = \"" + pattern + "\"\n", "r.toml");
    ASSERT_FALSE(c) << pattern << " was accepted";
    EXPECT_EQ(c.error().rfind("r.toml:5: key 'rules[0].match': not an RE2 regular expression", 0), 0u) << c.error();
  }
  // Classes, anchors, alternation, counted repetition and (?i)-style flags are RE2 too.
  auto ok = load_config_string(suspend_rule("^4\\d{2} .*\\b(busy|later)\\b") + suspend_rule("(?s)a.b"), "r.toml");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->rules.first_match(451, "4.3.0", "Server BUSY, try later"), &ok->rules[0]);
}

ResponseRule rule(const std::string& match, RuleAction action) {
  auto re = compile_rule_pattern(match);
  EXPECT_TRUE(re) << match << ": " << re.error();
  return ResponseRule{match, re ? *re : nullptr, action, std::chrono::minutes(1), 1};
}

TEST(RulesMatch, TheFirstRuleInFileOrderWinsWhenSeveralMatch) {
  // "later" occurs after "^421" in the text, but comes first in the file: it decides. The
  // same list is answered in one pass (the RE2::Set) and, with a rule that has no compiled
  // pattern added at the end (no set is built then), rule by rule: both must agree.
  const std::vector<ResponseRule> list = {rule("later", RuleAction::suspend), rule("^421", RuleAction::throttle),
                                          rule("^5", RuleAction::throttle)};
  std::vector<ResponseRule> without_set = list;
  without_set.push_back(ResponseRule{"unused", nullptr, RuleAction::suspend, std::chrono::minutes(1), 1});
  for (const ResponseRules& rules : {ResponseRules(list), ResponseRules(without_set)}) {
    const ResponseRule* r = rules.first_match(421, "4.7.0", "try again later");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r, &rules[0]);
    r = rules.first_match(421, "4.7.0", "closing");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r, &rules[1]);
    r = rules.first_match(554, "5.7.1", "LATER");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r, &rules[0]) << "case-insensitive, and before the ^5 rule";
    EXPECT_EQ(rules.first_match(450, "4.2.1", std::string(600, 'x') + "later"), nullptr);
  }
  EXPECT_EQ(ResponseRules{}.first_match(421, "4.7.0", "try again later"), nullptr);
}

TEST(RulesMatch, DefaultPatternsCompileAsRe2) {
  for (const ResponseRule& r : default_rules()) {
    EXPECT_NE(r.regex, nullptr) << r.match;
    EXPECT_TRUE(compile_rule_pattern(r.match)) << r.match;
  }
  EXPECT_FALSE(compile_rule_pattern("(unclosed"));
}

}  // namespace
}  // namespace ringpost::engine
