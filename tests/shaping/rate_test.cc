// Per-destination limits counted at the far side: msgs_per_second (token bucket, over 10 s),
// connections_per_second, max_connections, slow start (initial_connections), and a live
// PUT /v1/domains/{d}/throttle that applies within 1 s and survives a restart.
// The rates' exact counts are checked on the fake clock (tests/delivery: SiteRateLimit,
// SiteRateAccuracy, LocalDestinationLimiter); here, over real sockets and a wall clock that a
// loaded machine stretches, a rate is held to ±15 %: enough to catch a limit not applied or
// applied twice, not a flake.
#include <algorithm>
#include <set>

#include "tests/shaping/shaping_fixture.h"

namespace ringpost::shaping {
namespace {

// Every accepted message must be one distinct recipient, each exactly once.
void expect_each_once(const SmtpLog& log, std::string_view domain, int n, std::string_view prefix = "r") {
  std::set<std::string> seen;
  int total = 0;
  for (const auto& m : log.messages())
    for (const auto& r : m.rcpts) {
      ++total;
      seen.insert(r);
    }
  EXPECT_EQ(total, n) << "accepted recipients at the far side";
  EXPECT_EQ(static_cast<int>(seen.size()), n) << "distinct recipients at the far side (duplicates?)";
  for (int i = 0; i < n; ++i) {
    auto a = fmt::format("{}{}@{}", prefix, i, domain);
    if (!seen.count(a)) {
      ADD_FAILURE() << a << " never arrived";
      break;
    }
  }
}

TEST_F(Shaping, MsgsPerSecondFiftyDeliversFiveHundredInTenSeconds) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"rate.test", smtp.route(), "msgs_per_second = 50\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  auto ids = submit(make_messages("rate.test", 700, "rate"));
  ASSERT_EQ(ids.size(), 700u);
  auto first = wait_messages(smtp, 1, 30s);
  auto t0 = first.first_message_time();
  ASSERT_TRUE(t0) << "nothing arrived within 30 s";
  sleep_until_mono(*t0 + 10.3);
  auto log = log_of(smtp);
  int n = log.messages_between(*t0, *t0 + 10);
  RecordProperty("arrivals_in_10s", n);
  EXPECT_NEAR(n, 500, 75) << "arrivals in the 10 s from the first one; per second: " << log.per_second(*t0, 11);

  // Nothing is lost or duplicated by the shaping: all 700 arrive, each once.
  auto done = wait_messages(smtp, 700, 40s);
  EXPECT_EQ(done.messages().size(), 700u) << "per second: " << done.per_second(*t0, 20);
  expect_each_once(done, "rate.test", 700);
}

// The same over 10 s at lower rates, written in each accepted format. Below 10/s the bucket
// holds a single token, so these rates show whether time is lost between shard ticks.
struct RateCase {
  const char* name;
  const char* toml;  // the value of msgs_per_second
  double per_second;
};
void PrintTo(const RateCase& rc, std::ostream* os) { *os << "msgs_per_second = " << rc.toml; }

class MsgsPerSecondAccuracy : public ShapingTest, public ::testing::WithParamInterface<RateCase> {};

TEST_P(MsgsPerSecondAccuracy, TenSecondWindowHoldsTheRate) {
  const RateCase rc = GetParam();
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"acc.test", smtp.route(), fmt::format("msgs_per_second = {}\n", rc.toml)}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  const int total = static_cast<int>(rc.per_second * 14) + 10;  // a backlog that outlasts the window
  auto ids = submit(make_messages("acc.test", total, "acc"));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(total));
  auto first = wait_messages(smtp, 1, 30s);
  auto t0 = first.first_message_time();
  ASSERT_TRUE(t0) << "nothing arrived within 30 s";
  sleep_until_mono(*t0 + 10.3);
  auto log = log_of(smtp);
  int n = log.messages_between(*t0, *t0 + 10);
  RecordProperty("arrivals_in_10s", n);
  const double want = rc.per_second * 10;
  EXPECT_NEAR(n, want, want * 0.15) << "msgs_per_second = " << rc.toml << ": arrivals in the 10 s from the first one;"
                                    << " per second: " << log.per_second(*t0, 11);
}

INSTANTIATE_TEST_SUITE_P(Shaping, MsgsPerSecondAccuracy,
                         ::testing::Values(RateCase{"Seven", "7", 7}, RateCase{"Eleven", "11", 11},
                                           RateCase{"ThreeHundredPerMin", "\"300/min\"", 5},
                                           RateCase{"SeventyTwoThousandPerHour", "\"72000/h\"", 20}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(Shaping, MaxConnectionsThreeIsNeverExceeded) {
  // 50 ms per message at the far side: ringpost has every reason to want more connections.
  auto& smtp = start_smtp("dest", {"--delay", "DATA-END=0.05"});
  auto cfg = base_config();
  cfg.domains = {{"conn.test", smtp.route(), "max_connections = 3\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  auto ids = submit(make_messages("conn.test", 300, "conn"));
  ASSERT_EQ(ids.size(), 300u);
  auto log = wait_messages(smtp, 300, 90s);
  ASSERT_EQ(log.messages().size(), 300u) << "not all delivered within 90 s";
  EXPECT_LE(log.max_concurrent(), 3) << "concurrent sessions seen by the server";
  EXPECT_GE(log.max_concurrent(), 1);
  RecordProperty("max_concurrent", log.max_concurrent());
  RecordProperty("connects", log.connects());
  expect_each_once(log, "conn.test", 300);
}

// connections_per_second has the same format as msgs_per_second and the same bucket.
TEST_F(Shaping, ConnectionsPerSecondTenOpensOneHundredInTenSeconds) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  // One message per connection: every message needs a new connection.
  cfg.domains = {{"cps.test", smtp.route(), "connections_per_second = \"10/s\"\nmax_msgs_per_connection = 1\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  auto ids = submit(make_messages("cps.test", 200, "cps"));
  ASSERT_EQ(ids.size(), 200u);
  std::optional<double> c0;
  it::wait_until(30s, 50ms, [&] {
    auto l = smtp.log();
    if (!l) return false;
    for (const auto& e : l->events)
      if (e.ev == "connect") {
        c0 = e.t;
        return true;
      }
    return false;
  });
  ASSERT_TRUE(c0) << "no connection within 30 s";
  sleep_until_mono(*c0 + 10.3);
  auto log = log_of(smtp);
  int n = log.connects_between(*c0, *c0 + 10);
  RecordProperty("connects_in_10s", n);
  std::string per_second;
  for (int k = 0; k < 11; ++k) per_second += fmt::format(" {}", log.connects_between(*c0 + k, *c0 + k + 1));
  EXPECT_NEAR(n, 100, 15) << "connections opened in the 10 s from the first one; per second:" << per_second;
}

// initial_connections = 2: a new destination starts with at most 2 connections and grows by one
// per successful transaction up to max_connections. Checked without timing: at every connect,
// the sessions open at the far side are at most 2 + the transactions accepted before it.
TEST_F(Shaping, SlowStartOpensInitialConnectionsThenGrows) {
  auto& smtp = start_smtp("dest", {"--delay", "DATA-END=0.2"});
  auto cfg = base_config();
  cfg.domains = {{"slow.test", smtp.route(), "initial_connections = 2\nmax_connections = 8\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  auto ids = submit(make_messages("slow.test", 60, "slow"));
  ASSERT_EQ(ids.size(), 60u);
  auto log = wait_messages(smtp, 60, 60s);
  ASSERT_EQ(log.messages().size(), 60u) << "not all delivered within 60 s";

  int accepted = 0;
  std::string violations;
  for (const auto& e : log.events) {
    if (e.ev == "message") ++accepted;
    if (e.ev == "connect" && e.concurrent > std::min(2 + accepted, 8))
      violations += fmt::format("\n    session {} opened as #{} concurrent after {} accepted transactions", e.session,
                                e.concurrent, accepted);
  }
  EXPECT_TRUE(violations.empty()) << "window exceeded (initial 2, +1 per success, max 8):" << violations;
  EXPECT_GT(log.max_concurrent(), 2) << "the window never grew past initial_connections";
  EXPECT_LE(log.max_concurrent(), 8);
  RecordProperty("max_concurrent", log.max_concurrent());
}

TEST_F(Shaping, LiveThrottleChangesTheRateWithinOneSecond) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"live.test", smtp.route(), "msgs_per_second = 100\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  auto ids = submit(make_messages("live.test", 1000, "live"));
  ASSERT_EQ(ids.size(), 1000u);
  auto first = wait_messages(smtp, 1, 30s);
  auto t0 = first.first_message_time();
  ASSERT_TRUE(t0) << "nothing arrived within 30 s";
  sleep_until_mono(*t0 + 2);

  const double t_put = mono_now();
  auto d = admin_->throttle("live.test", R"({"msgs_per_second":10})");
  ASSERT_TRUE(d) << d.error();
  ASSERT_TRUE(d->limits.msgs_per_second) << d->raw;
  EXPECT_DOUBLE_EQ(*d->limits.msgs_per_second, 10) << d->raw;

  sleep_until_mono(t_put + 6.3);
  auto log = log_of(smtp);
  int before = log.messages_between(t_put - 1, t_put);
  int n = log.messages_between(t_put + 1, t_put + 6);
  RecordProperty("arrivals_second_before_put", before);
  RecordProperty("arrivals_1s_to_6s_after_put", n);
  EXPECT_NEAR(n, 50, 5) << "arrivals from 1 s to 6 s after the PUT (second before the PUT: " << before
                        << "); per second from t0: " << log.per_second(*t0, static_cast<int>(t_put + 7 - *t0));

  // The override is persisted: after a restart it is still in force.
  auto r = server_->restart();
  ASSERT_TRUE(r) << r.error();
  auto after = admin_->domain("live.test");
  ASSERT_TRUE(after) << after.error();
  ASSERT_TRUE(after->limits.msgs_per_second) << "override lost over the restart: " << after->raw;
  EXPECT_DOUBLE_EQ(*after->limits.msgs_per_second, 10) << after->raw;
}

}  // namespace
}  // namespace ringpost::shaping
