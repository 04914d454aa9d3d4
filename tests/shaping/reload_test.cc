// SIGHUP re-reads the config file: new limits apply without a restart and nothing in flight is
// lost; a bad file is rejected ("config error", "keeping the current config") and the old config
// stays in force.
#include <algorithm>
#include <set>

#include "tests/shaping/shaping_fixture.h"

namespace ringpost::shaping {
namespace {

class Reload : public ShapingTest {};

int occurrences(std::string_view hay, std::string_view needle) {
  int n = 0;
  for (std::size_t at = hay.find(needle); at != std::string_view::npos && n < 100000; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(Reload, SighupAppliesNewLimitsAndABadFileKeepsTheOld) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"reload.test", smtp.route(), "msgs_per_second = \"120/min\"\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));
  const auto pid = server_->process().pid();

  auto v0 = admin_->domain("reload.test");
  ASSERT_TRUE(v0) << v0.error();
  ASSERT_TRUE(v0->limits.msgs_per_second) << v0->raw;
  EXPECT_DOUBLE_EQ(*v0->limits.msgs_per_second, 2) << "\"120/min\" is 2 per second: " << v0->raw;

  const int kN = 400;
  auto ids = submit(make_messages("reload.test", kN, "reload"));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));
  auto first = wait_messages(smtp, 1, 30s);
  auto t0 = first.first_message_time();
  ASSERT_TRUE(t0) << "nothing arrived within 30 s";
  sleep_until_mono(*t0 + 2);

  // Good file: 30/s and 4 connections, applied without a restart.
  auto cfg2 = cfg;
  cfg2.domains = {{"reload.test", smtp.route(), "msgs_per_second = 30\nmax_connections = 4\n"}};
  ASSERT_TRUE(server_->write_config(cfg2, kAdminToml));
  const double t_hup = mono_now();
  ASSERT_TRUE(server_->sighup());
  std::optional<double> t_applied;
  std::string last_view;
  it::wait_until(10s, 50ms, [&] {
    auto v = admin_->domain("reload.test");
    if (!v) {
      last_view = v.error();
      return false;
    }
    last_view = v->raw;
    if (v->limits.msgs_per_second && *v->limits.msgs_per_second == 30 && v->limits.max_connections == 4) {
      t_applied = mono_now();
      return true;
    }
    return false;
  });
  ASSERT_TRUE(t_applied) << "GET /v1/domains/reload.test did not show the reloaded limits within 10 s: " << last_view;
  RecordProperty("reload_seen_after_s", fmt::format("{:.3f}", *t_applied - t_hup));
  EXPECT_EQ(server_->process().pid(), pid);
  EXPECT_TRUE(server_->process().running()) << server_->process().describe_exit();

  // The new rate holds (±5 % over 10 s) from the moment the engine reports it.
  sleep_until_mono(*t_applied + 10.3);
  auto log = log_of(smtp);
  int n = log.messages_between(*t_applied, *t_applied + 10);
  RecordProperty("arrivals_in_10s_after_reload", n);
  EXPECT_NEAR(n, 300, 15) << "arrivals in the 10 s after the reload was visible; per second from the SIGHUP: "
                          << log.per_second(t_hup, 12);

  // Nothing in flight was lost: every message arrives once and is delivered.
  auto done = wait_messages(smtp, kN, 60s);
  EXPECT_EQ(done.messages().size(), static_cast<std::size_t>(kN));
  std::set<std::string> seen;
  for (const auto& m : done.messages())
    for (const auto& r : m.rcpts) seen.insert(r);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kN)) << "distinct recipients at the far side";
  int not_delivered = 0;
  std::string examples;
  for (const auto& id : ids) {
    auto st = api_->status(id);
    if (!st || st->recipients.size() != 1 || st->recipients[0].state != "delivered") {
      if (++not_delivered <= 3) examples += "\n    " + (st ? it::summarize(*st) : st.error());
    }
  }
  EXPECT_EQ(not_delivered, 0) << examples;
  EXPECT_EQ(occurrences(server_->process().output(), "config error"), 0) << server_->process().output_tail(2000);

  // Bad files: a syntax error, then a bad value. Each is refused and the current config stays.
  const std::string syntax_error = server_->toml() + "\n[domains.\"broken.test\"\nroute = \"127.0.0.1:1\n";
  auto cfg3 = cfg;
  cfg3.domains = {{"reload.test", smtp.route(), "msgs_per_second = \"lots/s\"\nmax_connections = 1\n"}};
  const std::string bad_value = render_config(cfg3, kAdminToml);
  int round = 0;
  for (const auto& [what, text] : {std::pair<std::string, std::string>{"syntax error", syntax_error},
                                   std::pair<std::string, std::string>{"bad value", bad_value}}) {
    ++round;
    SCOPED_TRACE(what);
    ASSERT_TRUE(server_->write_config_text(text));
    ASSERT_TRUE(server_->sighup());
    bool logged = it::wait_until(10s, 50ms, [&] {
      auto out = server_->process().output();
      return occurrences(out, "config error") >= round && occurrences(out, "keeping the current config") >= round;
    });
    EXPECT_TRUE(logged) << "the log should say `config error` and `keeping the current config`:\n"
                        << server_->process().output_tail(2000);
    ASSERT_TRUE(server_->process().running()) << server_->process().describe_exit();
    auto v = admin_->domain("reload.test");
    ASSERT_TRUE(v) << v.error();
    EXPECT_EQ(v->limits.msgs_per_second.value_or(-1), 30) << "the old config must stay: " << v->raw;
    EXPECT_EQ(v->limits.max_connections, 4) << "the old config must stay: " << v->raw;
  }

  // Still delivering under the kept config.
  auto id = submit_one({"late@reload.test"}, "after the bad reloads");
  ASSERT_FALSE(id.empty());
  MessageStatus st;
  std::string history;
  EXPECT_TRUE(poll_status(id, 20s, all_final, &st, &history)) << history;
  EXPECT_EQ(st.recipients.at(0).state, "delivered") << history;
}

}  // namespace
}  // namespace ringpost::shaping
