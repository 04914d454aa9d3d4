// Rollup (docs/shaping.md "Rollup"): the limits of a site several domains share are the
// strictest of theirs; an operator's suspension of one domain holds that domain's mail only.
#include "engine/delivery/live_policy.h"
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteRollup = SiteTest;

TEST_F(SiteRollup, TakesTheStrictestLimitsOfItsDomains) {
  auto cfg = std::make_shared<Config>();
  DeliveryPolicy& pa = cfg->domains["a.test"];
  pa.max_connections = 4;
  pa.initial_connections = 4;
  DeliveryPolicy& pb = cfg->domains["b.test"];
  pb.max_connections = 2;
  pb.msgs_per_second = 10.0;
  const LivePolicy live{cfg, {}};
  const Endpoint mx = endpoint("mx.shared.test", 1);
  serve(mx);
  Site& s = make_site(live.effective("a.test"), {mx}, "a.test");
  ASSERT_TRUE(s.add_domain("b.test"));
  s.set_policy(live, host.now_ms);
  const Site::Snapshot snap = s.snapshot(host.now_ms);
  EXPECT_EQ(snap.limits.max_connections, 2u);
  EXPECT_EQ(snap.limits.msgs_per_second, 10.0);

  enqueue("a.test", 50, "a");
  enqueue("b.test", 50, "b");
  // One second of the fake clock, the site visited every 50 ms as the shard's tick would:
  // b's 10/s holds for a's mail too (one token to start with, then one per 100 ms).
  const int64_t t0 = host.now_ms;
  for (int64_t t = t0; t <= t0 + 1000; t += 50) host.step(s, t);
  EXPECT_EQ(delivered(), 11u);
  EXPECT_EQ(net.connects_total(), 2) << "a.test alone would have opened 4";
  EXPECT_EQ(net.most_open_at_once(), 2);
}

TEST_F(SiteRollup, OperatorSuspensionHoldsOnlyThatDomain) {
  auto cfg = std::make_shared<Config>();
  const Endpoint mx = endpoint("mx.shared.test", 1);
  serve(mx);
  const int64_t t0 = host.now_ms, until = t0 + 60'000;
  LivePolicy live{cfg, {}};
  live.overrides["b.test"].suspended_until_ms = until;
  Site& s = make_site(live.effective("a.test"), {mx}, "a.test");
  s.add_domain("b.test");
  s.set_policy(live, t0);
  enqueue("a.test", 3, "a");
  enqueue("b.test", 3, "b");
  host.settle(s);

  EXPECT_EQ(delivered(), 3u);
  for (const auto& r : host.reports) {
    if (r.state != queue::RecipientState::delivered) continue;
    EXPECT_EQ(r.message[0], 'a') << r.message;
  }
  ASSERT_EQ(host.count(queue::RecipientState::deferred, /*hold=*/true), 3u);
  for (const auto& r : host.reports) {
    if (!r.hold) continue;
    EXPECT_EQ(r.message[0], 'b');
    EXPECT_EQ(r.until_ms, until);
    EXPECT_EQ(r.attempts, 0u) << "a hold is not an attempt";
    EXPECT_NE(r.reply.text.find("suspended by an operator"), std::string::npos) << r.reply.text;
  }
  EXPECT_EQ(s.queued(), 3u);

  host.step(s, until - 1);
  EXPECT_EQ(delivered(), 3u);
  host.step(s, until);  // the suspension ran out: its mail goes back to the queue
  EXPECT_EQ(delivered(), 6u);
  EXPECT_EQ(host.body_reads, 3u) << "held mail waits without its body";
  EXPECT_EQ(host.count(queue::RecipientState::deferred, true), 3u) << "held once, not per visit";
  EXPECT_EQ(s.queued(), 0u);
}

}  // namespace
}  // namespace ringpost::engine::testing
