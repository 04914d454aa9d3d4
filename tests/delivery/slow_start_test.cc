// Slow start (docs/shaping.md "Controls", Postfix's destination concurrency window): a new
// site opens initial_connections, one more per delivered transaction up to max_connections,
// and halves the window on a 421 or a failed connection.
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteSlowStart = SiteTest;

TEST_F(SiteSlowStart, OpensOneConnectionMorePerDeliveredTransaction) {
  DeliveryPolicy p = policy();
  p.initial_connections = 1;
  p.max_connections = 4;
  const Endpoint a = endpoint("mx-a.test", 1);
  serve(a);
  Site& s = make_site(p, {a});
  enqueue("dest.test", 100);

  // Shard's loop, by hand: after every batch of completions, the sites they touched are
  // visited, and the connections opened so far must be 1 + the transactions delivered so far.
  s.pump(host.now_ms);
  EXPECT_EQ(net.connects_total(), 1);
  std::size_t checks_while_growing = 0;
  while (net.pending()) {
    net.round();
    host.visit(s);
    const int expected = static_cast<int>(std::min<std::size_t>(4, 1 + delivered()));
    ASSERT_EQ(net.connects_total(), expected) << "after " << delivered() << " delivered";
    if (expected < 4) ++checks_while_growing;
  }
  EXPECT_GT(checks_while_growing, 0u);
  EXPECT_EQ(delivered(), 100u);
  EXPECT_EQ(net.connects_total(), 4);
  EXPECT_EQ(net.most_open_at_once(), 4);
  EXPECT_EQ(s.window(), 4.0);
}

TEST_F(SiteSlowStart, RefusedConnectHalvesTheWindow) {
  DeliveryPolicy p = policy();
  p.initial_connections = 4;
  p.max_connections = 4;
  const Endpoint a = endpoint("mx-a.test", 1, 10), b = endpoint("mx-b.test", 2, 20);
  serve(b);  // nobody listens on a: refused
  Site& s = make_site(p, {a, b});
  enqueue("dest.test", 5);  // fewer than kQueuedPerNewConnection: one connection at a time

  s.pump(host.now_ms);
  ASSERT_EQ(net.connects("mx-a.test[192.0.2.1]:25"), 1);
  EXPECT_EQ(s.window(), 4.0);
  net.round();  // the refusal
  EXPECT_EQ(s.window(), 2.0);
  host.settle(s);
  EXPECT_EQ(delivered(), 5u);
}

TEST_F(SiteSlowStart, AGreeting421HalvesTheWindow) {
  DeliveryPolicy p = policy();
  p.initial_connections = 4;
  p.max_connections = 4;
  const Endpoint a = endpoint("mx-a.test", 1);
  sink.greet_421 = true;
  serve(a);
  Site& s = make_site(p, {a});
  enqueue("dest.test", 5);

  s.pump(host.now_ms);
  // Until the connection is gone, every completion it has (the greeting, the reads and
  // writes of its end) is reported to the site: the window must halve once, not per report.
  while (net.pending()) net.round();
  s.reap();
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(seen.replies_421, 1u);
  EXPECT_EQ(s.window(), 2.0);
}

}  // namespace
}  // namespace ringpost::engine::testing
