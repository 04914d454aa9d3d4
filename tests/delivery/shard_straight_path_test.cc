// Shard::retry's straight path (issue 20; docs/architecture.md "A message's path", step 6): a
// retry whose route is still within its TTL goes back to its site on this shard without being
// routed again; once the TTL has ended it is routed again, by the domain's own shard.
//
// The delivery arrives routed (as from a peer) on route A, to mx-a.test, which refuses the
// first connection; its domain's own routing would give B (a static route here, or an MX
// lookup). Where the retry connects tells which path it took.
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

// Route A of dest.test, valid until expires_ms.
RoutePtr route_a(int64_t expires_ms) {
  RoutePtr r = route_of({endpoint("mx-a.test", 1)}, "mx:mx-a.test");
  std::const_pointer_cast<Route>(r)->expires_ms = expires_ms;
  return r;
}
const std::string kA = "mx-a.test[192.0.2.1]:25";
const std::string kB = "192.0.2.2:25";

class ShardStraightPath : public ShardTest {
 protected:
  // dest.test's own routing gives B; one message arrives on route A (valid for ttl_ms), whose
  // first connection is refused. Returns the retry's time; the shard is shards[0].
  int64_t first_attempt_refused_on_route_a(int64_t ttl_ms) {
    static_route("dest.test", "192.0.2.2", 25);
    serve(kB);
    Shard& s = make_shards();
    submit(s, "dest.test", mail_to("dest.test", "m1"), route_a(t0 + ttl_ms));
    settle(t0);
    EXPECT_EQ(net.connects(kA), 1);
    const auto deferred = of_state(queue::RecipientState::deferred);
    EXPECT_EQ(deferred.size(), 1u);
    return deferred.empty() ? 0 : deferred[0].next_attempt_at_ms;
  }
};

TEST_F(ShardStraightPath, RetryWithinItsRoutesTtlGoesStraightBackToItsSite) {
  const int64_t at = first_attempt_refused_on_route_a(60'000);
  ASSERT_FALSE(HasFailure());
  Shard& s = *shards[0];
  ASSERT_LT(at, t0 + 60'000);

  serve(kA);
  settle(at);
  EXPECT_EQ(net.connects(kA), 2) << "the retry went back to route A's site";
  EXPECT_EQ(net.connects(kB), 0) << "routed again although route A was fresh";
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().host, kA);
  EXPECT_EQ(out.back().at_ms, at);
  EXPECT_EQ(s.route_entries(), 0u) << "no route entry: dest.test was never routed here";
}

TEST_F(ShardStraightPath, RetryAfterItsRoutesTtlIsRoutedAgain) {
  const int64_t at = first_attempt_refused_on_route_a(5'000);
  ASSERT_FALSE(HasFailure());
  Shard& s = *shards[0];
  ASSERT_GT(at, t0 + 5'000);

  serve(kA);
  settle(at);
  EXPECT_EQ(net.connects(kA), 1) << "went back to route A after its TTL";
  EXPECT_EQ(net.connects(kB), 1) << "routed again: dest.test's static route";
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().host, kB);
  EXPECT_EQ(s.route_entries(), 1u);
}

TEST_F(ShardStraightPath, ExpiredRetryIsRoutedAgainByTheDomainsOwnShard) {
  // A domain shard 1 routes (MX lookup: no static route), its route-A site on shard 0.
  std::string domain;
  for (int i = 0; domain.empty(); ++i)
    if (std::string d = "d" + std::to_string(i) + ".test"; shard_for_domain(d, 2) == 1) domain = d;
  make_shards(2);
  Shard& s0 = *shards[0];
  Shard& s1 = *shards[1];
  submit(s0, domain, mail_to(domain, "m1"), route_a(t0 + 5'000));

  settle(t0);
  ASSERT_EQ(net.connects(kA), 1);
  const auto deferred = of_state(queue::RecipientState::deferred);
  ASSERT_EQ(deferred.size(), 1u);
  const int64_t at = deferred[0].next_attempt_at_ms;
  serve(kA);
  settle(at - 50);  // the tick before its time (one per 50 ms)
  EXPECT_EQ(s1.counters().dns_lookups.load(), 0u);
  settle(at);
  EXPECT_EQ(net.connects(kA), 1);
  EXPECT_EQ(s0.counters().dns_lookups.load(), 0u) << "routed on the site's shard, not the domain's";
  EXPECT_EQ(s0.route_entries(), 0u);
  EXPECT_EQ(s1.counters().dns_lookups.load(), 1u) << "the domain's shard looks it up";
  EXPECT_EQ(s1.route_entries(), 1u);
}

}  // namespace
}  // namespace ringpost::engine::testing
