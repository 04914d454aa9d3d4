// Shard::route without DNS: a domain's static route ([domains] route) and address literals
// (RFC 5321 §4.1.3), each to its own site, checked against [delivery] blocked_networks where
// the recipient chose the address.
#include "engine/security/network_policy.h"
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

using ShardRouting = ShardTest;

TEST_F(ShardRouting, StaticRouteGoesToItsHostAndPortWithoutALookup) {
  static_route("routed.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();
  submit(s, "routed.test", mail_to("routed.test", "m1"));
  settle(t0);
  EXPECT_EQ(net.connects_total(), 1);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().site, "route:192.0.2.20:2525 tls=off");
  EXPECT_EQ(out.back().host, "192.0.2.20:2525");
  EXPECT_EQ(s.counters().dns_lookups.load(), 0u);
}

TEST_F(ShardRouting, DomainsWithTheSameStaticRouteShareOneSite) {
  static_route("a.test", "192.0.2.20", 2525);
  static_route("b.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();
  submit(s, "a.test", mail_to("a.test", "m1"));
  submit(s, "b.test", mail_to("b.test", "m2"));
  settle(t0);
  EXPECT_EQ(delivered(), 2u);
  EXPECT_EQ(s.counters().sites.load(), 1u);
  EXPECT_EQ(s.route_entries(), 2u);
}

TEST_F(ShardRouting, StaticRouteToAHostNameNeedsALookup) {
  static_route("named.test", "relay.example.test", 2525);
  Shard& s = make_shards();
  submit(s, "named.test", mail_to("named.test", "m1"));
  settle(t0);
  EXPECT_EQ(net.connects_total(), 0);
  EXPECT_EQ(s.counters().dns_lookups.load(), 1u);
  EXPECT_TRUE(out.empty());
}

TEST_F(ShardRouting, AddressLiteralGoesToTheAddressOnTheMxPort) {
  serve("192.0.2.30:25");
  serve("2001:db8::5:25");
  Shard& s = make_shards();
  submit(s, "[192.0.2.30]", mail_to("[192.0.2.30]", "m4"));
  submit(s, "[IPv6:2001:db8::5]", mail_to("[IPv6:2001:db8::5]", "m6"));
  settle(t0);
  ASSERT_EQ(delivered(), 2u);
  std::set<std::string> sites;
  for (const DeliveryEvent& e : of_state(queue::RecipientState::delivered)) sites.insert(e.site);
  EXPECT_EQ(sites, (std::set<std::string>{"literal:192.0.2.30:25 tls=off", "literal:2001:db8::5:25 tls=off"}));
  EXPECT_EQ(s.counters().dns_lookups.load(), 0u);
}

TEST_F(ShardRouting, AddressLiteralInABlockedNetworkBouncesButAnOperatorsRouteThereDoesNot) {
  cfg->delivery.blocked_networks = {*parse_cidr("192.0.2.0/24")};
  static_route("routed.test", "192.0.2.20", 2525);  // the operator's choice: not checked
  serve("192.0.2.20:2525");
  serve("192.0.2.30:25");
  Shard& s = make_shards();
  submit(s, "[192.0.2.30]", mail_to("[192.0.2.30]", "m1"));
  submit(s, "routed.test", mail_to("routed.test", "m2"));
  settle(t0);
  EXPECT_EQ(net.connects("192.0.2.30:25"), 0);
  const auto bounced = of_state(queue::RecipientState::bounced);
  ASSERT_EQ(bounced.size(), 1u);
  EXPECT_EQ(bounced[0].msg->id, "m1");
  EXPECT_EQ(bounced[0].reply.code, 550);
  EXPECT_EQ(bounced[0].reply.enhanced, "5.7.1");
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().msg->id, "m2");
}

}  // namespace
}  // namespace ringpost::engine::testing
