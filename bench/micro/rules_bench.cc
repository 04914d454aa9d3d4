// Back-off rules ([[rules]], docs/shaping.md) on the shard's thread, per failing reply:
//   BM_RulesMatch/reply:<kind>/bytes:N         every default rule against one reply, as Site::on_reply
//                                              does it (format the first 512 bytes, one RE2::Set pass)
//   BM_RulesMatchEach/reply:<kind>/bytes:N     the same window, RE2 rule by rule (the fallback path)
//   BM_RulesMatchStdRegex/reply:<kind>/bytes:N the baseline: what it cost before, std::regex_search
//                                              (ECMAScript, icase) over the whole line
// Replies: a normal 4xx that no rule matches (so every rule runs to the end), a Gmail rate-limit
// reply (the first rule fires), and two 4 KiB hostile ones: near-misses of every alternative of
// the default patterns after a prefix that passes their anchor, and 4 KiB of 'a'.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "bench/micro/micro.h"
#include "engine/config/config.h"
#include "smtp/reply.h"

namespace ringpost::bench {
namespace {

smtp::Reply normal_reply() { return {450, "4.2.1", "Mailbox temporarily unavailable: user is over quota"}; }

smtp::Reply gmail_rate_limit() {
  return {421, "4.7.28",
          "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP\n"
          "address. To protect our users from spam, mail sent from your IP address has been temporarily rate\n"
          "limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError - gsmtp"};
}

// "421 4.7.0 " then near-misses of the default patterns' words, no newline, 4 KiB in all: the
// `^4[0-9][0-9] ` anchor passes, and every `.*(...)` alternative keeps starting and failing.
smtp::Reply hostile_near_misses() {
  const std::string piece =
      "rate limi rate-limi throtl unusual rat sending rat rate exceede slow dow too many messages frmo "
      "per hour limt TSS0x try again late temporarily deferre service not availabl ";
  std::string text;
  while (text.size() + piece.size() <= 4096 - 10) text += piece;
  text.append(4096 - 10 - text.size(), 'a');
  return {421, "4.7.0", text};
}

smtp::Reply hostile_a() { return {421, "4.7.0", std::string(4096 - 10, 'a')}; }

std::size_t line_bytes(const smtp::Reply& r) { return fmt::format("{} {} {}", r.code, r.enhanced, r.text).size(); }

void BM_RulesMatch(benchmark::State& state, smtp::Reply reply) {
  const engine::ResponseRules rules = engine::default_rules();
  for (auto _ : state) {
    const engine::ResponseRule* r = rules.first_match(reply.code, reply.enhanced, reply.text);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>(rules.size());
}

void BM_RulesMatchEach(benchmark::State& state, smtp::Reply reply) {
  // A rule without a compiled pattern at the end keeps ResponseRules from building its set.
  std::vector<engine::ResponseRule> list = engine::default_rules();
  list.push_back(engine::ResponseRule{"(none)", nullptr, engine::RuleAction::suspend, std::chrono::minutes(1), 1});
  const engine::ResponseRules rules(std::move(list));
  for (auto _ : state) {
    const engine::ResponseRule* r = rules.first_match(reply.code, reply.enhanced, reply.text);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RulesMatchStdRegex(benchmark::State& state, smtp::Reply reply) {
  std::vector<std::regex> rules;
  for (const engine::ResponseRule& r : engine::default_rules())
    rules.emplace_back(r.match, std::regex::ECMAScript | std::regex::icase);
  for (auto _ : state) {
    const std::string line = fmt::format("{} {} {}", reply.code, reply.enhanced, reply.text);
    const std::regex* hit = nullptr;
    for (const std::regex& re : rules)
      if (std::regex_search(line, re)) {
        hit = &re;
        break;
      }
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

void register_rules() {
  const std::pair<const char*, smtp::Reply> replies[] = {
      {"normal", normal_reply()},
      {"rate_limit", gmail_rate_limit()},
      {"hostile", hostile_near_misses()},
      {"hostile_a", hostile_a()},
  };
  for (const auto& [kind, reply] : replies)
    benchmark::RegisterBenchmark(fmt::format("BM_RulesMatch/reply:{}/bytes:{}", kind, line_bytes(reply)).c_str(),
                                 BM_RulesMatch, reply);
  for (const auto& [kind, reply] : replies)
    benchmark::RegisterBenchmark(fmt::format("BM_RulesMatchEach/reply:{}/bytes:{}", kind, line_bytes(reply)).c_str(),
                                 BM_RulesMatchEach, reply);
  for (const auto& [kind, reply] : replies)
    benchmark::RegisterBenchmark(
        fmt::format("BM_RulesMatchStdRegex/reply:{}/bytes:{}", kind, line_bytes(reply)).c_str(),
        BM_RulesMatchStdRegex, reply);
}

}  // namespace ringpost::bench
