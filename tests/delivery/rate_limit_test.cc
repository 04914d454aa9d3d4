// msgs_per_second on the fake clock, to the exact count. queue/token_bucket.cc: a site's
// bucket starts with one token (no burst) and gains rate × elapsed; its capacity (1 + a tenth
// of a second's worth = 6 at 50/s) is never reached when it is visited every 50 ms (2.5
// tokens per visit). So after the visit at t0 + 50·k ms, exactly 1 + ⌊2.5·k⌋ messages have
// been sent: 10 s (k = 200) → 501.
#include "tests/delivery/site_fixture.h"

#include "queue/token_bucket.h"

namespace ringpost::engine::testing {
namespace {

using SiteRateLimit = SiteTest;

TEST_F(SiteRateLimit, FiftyPerSecondOverTenSecondsIsExact) {
  DeliveryPolicy p = policy();
  p.msgs_per_second = 50.0;
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  Site& s = make_site(p, {mx});
  enqueue("dest.test", 1000);
  const int64_t t0 = host.now_ms;
  for (int k = 0; k <= 200; ++k) {
    host.step(s, t0 + 50 * k);
    ASSERT_EQ(delivered(), static_cast<std::size_t>(1 + (5 * k) / 2)) << "after the visit at +" << 50 * k << " ms";
  }
  EXPECT_EQ(delivered(), 501u);
  EXPECT_EQ(seen.messages, 501u);  // what the far side received
}

// The rates tests/shaping/rate_test.cc measures at a real sink over 10 s of wall clock (±5 %),
// here on the fake clock, each written as the config file would: below 10/s the bucket holds a
// single token, so these show whether time is lost between the shard's visits. After the visit
// at t0 + t ms, 1 + ⌊rate·t/1000⌋ messages have gone: exactly, except at the instants where
// rate·t/1000 is a whole number, where the bucket's sum of steps (7/s: 0.35 per visit, not
// exact in binary) may come out a hair under it, and that token goes at the next visit.
struct RateCase {
  const char* name;
  const char* text;  // the value of msgs_per_second in the file
};
class SiteRateAccuracy : public SiteTest, public ::testing::WithParamInterface<RateCase> {};

TEST_P(SiteRateAccuracy, EveryVisitOverTenSecondsHasSentExactlyTheTokensEarned) {
  auto rate = queue::parse_rate(GetParam().text);
  ASSERT_TRUE(rate) << GetParam().text;
  DeliveryPolicy p = policy();
  p.msgs_per_second = *rate;
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  Site& s = make_site(p, {mx});
  enqueue("dest.test", 1000);
  const int64_t t0 = host.now_ms;
  for (int64_t t = 0; t <= 10'050; t += 50) {
    host.step(s, t0 + t);
    const double x = *rate * static_cast<double>(t) / 1000.0;
    const auto most = 1 + static_cast<std::size_t>(x + 1e-9);
    const auto least = 1 + static_cast<std::size_t>(std::max(0.0, x - 1e-6));
    ASSERT_GE(delivered(), least) << GetParam().text << ", after the visit at +" << t << " ms: time was lost";
    ASSERT_LE(delivered(), most) << GetParam().text << ", after the visit at +" << t << " ms: over the rate";
  }
  // One visit past the far-side test's 10 s window, whatever a boundary delayed has gone too.
  EXPECT_EQ(seen.messages, 1 + static_cast<std::size_t>(*rate * 10.05 + 1e-9));
}

INSTANTIATE_TEST_SUITE_P(Formats, SiteRateAccuracy,
                         ::testing::Values(RateCase{"Seven", "7/s"}, RateCase{"Eleven", "11/s"},
                                           RateCase{"ThreeHundredPerMin", "300/min"},
                                           RateCase{"SeventyTwoThousandPerHour", "72000/h"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringpost::engine::testing
