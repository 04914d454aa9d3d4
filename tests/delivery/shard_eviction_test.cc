// A domain's route entry, like a site, is forgotten once unused for site_idle_evict (issue 20,
// defect 3): counted from the last message it routed, checked by its own timer. Timers are
// looked at by the shard's tick, every 50 ms of its clock: the checks below let the tick
// before each due time fall 50 ms before it, so each happens at its time exactly.
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

using ShardEviction = ShardTest;

TEST_F(ShardEviction, RouteEntryAndSiteGoAfterSiteIdleEvictSinceLastUse) {
  static_route("routed.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();  // site_idle_evict 60 s, idle_timeout 30 s
  submit(s, "routed.test", mail_to("routed.test", "m1"));
  settle(t0);
  ASSERT_EQ(delivered(), 1u);
  const int64_t used = t0 + 20'000;
  submit(s, "routed.test", mail_to("routed.test", "m2"));
  settle(used);
  ASSERT_EQ(delivered(), 2u);
  EXPECT_EQ(net.connects_total(), 1) << "the second message took the idle connection";
  ASSERT_EQ(s.route_entries(), 1u);

  const int64_t closed = used + 30'000;  // idle_timeout after its last message
  settle(closed - 50);
  EXPECT_EQ(net.open_transports(), 1);
  settle(closed);
  EXPECT_EQ(net.open_transports(), 0);
  EXPECT_EQ(s.counters().sites.load(), 1u);
  settle(t0 + 60'000);  // the entry's first check: used 40 s ago, kept
  EXPECT_EQ(s.route_entries(), 1u);
  settle(used + 59'950);
  EXPECT_EQ(s.route_entries(), 1u);
  settle(used + 60'000);
  EXPECT_EQ(s.route_entries(), 0u) << "unused for site_idle_evict";
  EXPECT_EQ(s.counters().sites.load(), 1u) << "the site's window counts from its connection's close";
  settle(closed + 59'950);
  EXPECT_EQ(s.counters().sites.load(), 1u);
  settle(closed + 60'000);
  EXPECT_EQ(s.counters().sites.load(), 0u);

  // The next message routes it afresh.
  submit(s, "routed.test", mail_to("routed.test", "m3"));
  settle(used + 100'000);
  EXPECT_EQ(s.route_entries(), 1u);
  EXPECT_EQ(delivered(), 3u);
}

TEST_F(ShardEviction, RouteEntryWaitingForALookupIsKept) {
  Shard& s = make_shards();
  submit(s, "mx.test", mail_to("mx.test", "m1"));  // no resolver: the lookup never answers
  settle(t0);
  ASSERT_EQ(s.route_entries(), 1u);
  settle(t0 + 60'000);
  settle(t0 + 600'000);
  EXPECT_EQ(s.route_entries(), 1u) << "evicted with a delivery waiting on it";
  EXPECT_EQ(s.counters().queued.load(), 1u);
}

}  // namespace
}  // namespace ringpost::engine::testing
