// Idle eviction (issue 20, defect 3): a site is evictable only once it has had no queue, no
// connection and no suspension for site_idle_evict, counted on the shard's clock.
#include "engine/delivery/live_policy.h"
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteEvictionUnit = SiteTest;

TEST_F(SiteEvictionUnit, EvictableOnlyAfterSiteIdleEvictWithNothingToDo) {
  DeliveryPolicy p = policy();
  p.site_idle_evict = std::chrono::seconds(60);
  p.idle_timeout = std::chrono::seconds(30);
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  const int64_t t0 = host.now_ms;
  Site& s = make_site(p, {mx});

  enqueue("dest.test", 1);
  EXPECT_FALSE(s.evictable(t0)) << "mail queued";
  host.settle(s);
  ASSERT_EQ(delivered(), 1u);
  ASSERT_EQ(s.connection_count(), 1u);
  EXPECT_FALSE(s.evictable(t0)) << "a connection open (idle)";

  // The idle timeout closes the connection at t0 + 30 s (QUIT, then the close).
  host.step(s, t0 + 29'999);
  EXPECT_EQ(s.connection_count(), 1u);
  const int64_t closed = t0 + 30'000;
  host.step(s, closed);
  ASSERT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.next_due_ms(closed, 50), closed + 60'000);
  EXPECT_FALSE(s.evictable(closed + 59'999));
  EXPECT_TRUE(s.evictable(closed + 60'000));

  // An operator's suspension of its domain (nothing queued) keeps it until the suspension
  // ends, then site_idle_evict counts from then.
  auto cfg = std::make_shared<Config>();
  cfg->domains["dest.test"] = p;
  LivePolicy live{cfg, {}};
  const int64_t until = closed + 300'000;
  live.overrides["dest.test"].suspended_until_ms = until;
  s.set_policy(live, closed + 60'000);
  EXPECT_FALSE(s.evictable(closed + 120'000)) << "suspended by an operator";
  host.step(s, until);  // the visit at the suspension's end releases it
  EXPECT_FALSE(s.evictable(until + 59'999));
  EXPECT_TRUE(s.evictable(until + 60'000));
}

}  // namespace
}  // namespace ringpost::engine::testing
