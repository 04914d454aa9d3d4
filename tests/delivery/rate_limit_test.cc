// msgs_per_second on the fake clock, to the exact count. queue/token_bucket.cc: a site's
// bucket starts with one token (no burst) and gains rate × elapsed; its capacity (1 + a tenth
// of a second's worth = 6 at 50/s) is never reached when it is visited every 50 ms (2.5
// tokens per visit). So after the visit at t0 + 50·k ms, exactly 1 + ⌊2.5·k⌋ messages have
// been sent: 10 s (k = 200) → 501.
#include "tests/delivery/site_fixture.h"

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

}  // namespace
}  // namespace ringpost::engine::testing
