// Failure scope (Postfix's qmgr, site.cc's header): a connection that fails before EHLO rests
// its endpoint and the next endpoint is tried at once; only when every endpoint has failed is
// it a site failure, and then the queue is deferred in one go with the last failure's reply,
// instead of each message trying its own connections.
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteFailureScope = SiteTest;

TEST_F(SiteFailureScope, RefusedConnectMovesToTheNextEndpointAtOnce) {
  const Endpoint a = endpoint("mx-a.test", 1, 10), b = endpoint("mx-b.test", 2, 20);
  serve(b);
  Site& s = make_site(policy(), {a, b});
  enqueue("dest.test", 3);
  const int64_t t0 = host.now_ms;
  s.pump(t0);
  ASSERT_EQ(net.connects(a.label), 1);
  net.round();  // refused
  host.visit(s);
  EXPECT_EQ(net.connects(b.label), 1) << "the next endpoint, in the same visit";
  host.settle(s);  // the clock never moves
  EXPECT_EQ(net.connects(a.label), 1) << "a rests until the next retry";
  ASSERT_EQ(delivered(), 3u);
  for (const auto& r : host.reports) {
    EXPECT_EQ(r.host, b.label);
    EXPECT_EQ(r.at_ms, t0);
  }
  EXPECT_TRUE(host.defers.empty());
  EXPECT_EQ(host.count(queue::RecipientState::deferred), 0u);
}

TEST_F(SiteFailureScope, EveryEndpointDownDefersTheWholeQueueOnceWithTheReply) {
  const Endpoint a = endpoint("mx-a.test", 1, 10), b = endpoint("mx-b.test", 2, 20);  // both refuse
  Site& s = make_site(policy(), {a, b});
  enqueue("dest.test", 5);
  const int64_t t0 = host.now_ms;
  host.settle(s);
  // One connection per endpoint, not one per message.
  EXPECT_EQ(net.connects(a.label), 1);
  EXPECT_EQ(net.connects(b.label), 1);
  ASSERT_EQ(host.defers.size(), 5u);
  std::set<std::string> ids;
  for (const auto& d : host.defers) {
    ids.insert(d.message);
    EXPECT_EQ(d.why.code, 451);
    EXPECT_EQ(d.why.enhanced, "4.4.1");
    EXPECT_NE(d.why.text.find("connect to " + b.label + " failed"), std::string::npos) << d.why.text;
  }
  EXPECT_EQ(ids.size(), 5u) << "each delivery deferred exactly once";
  ASSERT_EQ(host.count(queue::RecipientState::deferred), 5u);
  for (const auto& r : host.reports) EXPECT_EQ(r.attempts, 1u);
  ASSERT_EQ(host.retries.size(), 5u);
  for (const auto& r : host.retries) EXPECT_EQ(r.at_ms, t0 + 60'000);  // the first retry delay, no jitter here
  EXPECT_EQ(s.queued(), 0u);
  EXPECT_EQ(s.connection_count(), 0u);
}

}  // namespace
}  // namespace ringpost::engine::testing
