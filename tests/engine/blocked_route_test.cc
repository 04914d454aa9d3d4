// [delivery] blocked_networks applied to routes (docs/security.md "Destinations"): which
// endpoints survive, and the reply recipients bounce with when none does. Pure function; the
// end-to-end check with a real DNS server is tests/mx/mx_blocked_test.cc.
#include <arpa/inet.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/delivery/route.h"

namespace ringpost::engine {
namespace {

Endpoint ep(const std::string& ip, const std::string& host, uint16_t preference = 10) {
  in6_addr buf{};
  const int family = inet_pton(AF_INET, ip.c_str(), &buf) == 1 ? AF_INET : AF_INET6;
  if (family == AF_INET6) {
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &buf), 1) << ip;
  }
  Endpoint e = make_endpoint(family, &buf, 25, host, host != ip);
  e.preference = preference;
  return e;
}

RoutePtr route_of(std::vector<Endpoint> eps) {
  auto r = std::make_shared<Route>();
  r->site = "mx:10=mx1.dest.test;20=mx2.dest.test";
  r->endpoints = std::move(eps);
  r->expires_ms = 123456;
  return r;
}

std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) {
    auto c = parse_cidr(t);
    EXPECT_TRUE(c) << t;
    if (c) out.push_back(*c);
  }
  return out;
}

std::vector<std::string> labels(const RoutePtr& r) {
  std::vector<std::string> out;
  for (const Endpoint& e : r->endpoints) out.push_back(e.label);
  return out;
}

TEST(BlockedRoute, NothingBlockedKeepsTheSameRoute) {
  RoutePtr r = route_of({ep("10.1.1.1", "mx1.dest.test"), ep("2001:db9::1", "mx1.dest.test")});
  CheckedRoute c = drop_blocked_endpoints(r, default_blocked_cidrs());
  EXPECT_EQ(c.route, r) << "a route with nothing blocked must not be copied";
  EXPECT_TRUE(c.blocked.empty());
  EXPECT_EQ(c.refused.code, 0);
  // No list at all: everything goes.
  RoutePtr meta = route_of({ep("169.254.169.254", "mx1.dest.test")});
  EXPECT_EQ(drop_blocked_endpoints(meta, {}).route, meta);
}

TEST(BlockedRoute, SomeBlockedLeavesTheOthersInOrderUnderTheSameSite) {
  RoutePtr r = route_of({ep("169.254.169.254", "mx1.dest.test"), ep("10.1.1.1", "mx1.dest.test"),
                         ep("fe80::1", "mx2.dest.test", 20), ep("10.2.2.2", "mx2.dest.test", 20)});
  CheckedRoute c = drop_blocked_endpoints(r, default_blocked_cidrs());
  ASSERT_NE(c.route, nullptr);
  EXPECT_EQ(labels(c.route), (std::vector<std::string>{"mx1.dest.test[10.1.1.1]:25", "mx2.dest.test[10.2.2.2]:25"}));
  EXPECT_EQ(c.route->endpoints[1].preference, 20);
  EXPECT_EQ(c.route->site, r->site) << "the MX host set, and so the site, did not change";
  EXPECT_EQ(c.route->expires_ms, r->expires_ms);
  EXPECT_EQ(c.blocked, (std::vector<std::string>{"mx1.dest.test[169.254.169.254]:25 in 169.254.0.0/16",
                                                 "mx2.dest.test[fe80::1]:25 in fe80::/10"}));
  EXPECT_EQ(c.refused.code, 0);
  EXPECT_EQ(r->endpoints.size(), 4u) << "the input route is shared and must not change";
}

TEST(BlockedRoute, AllBlockedBouncesWithTheAddressHostAndRange) {
  CheckedRoute c = drop_blocked_endpoints(route_of({ep("169.254.169.254", "mx.example.test")}), default_blocked_cidrs());
  EXPECT_EQ(c.route, nullptr);
  EXPECT_EQ(c.refused, (smtp::Reply{550, "5.7.1",
                                    "delivery to 169.254.169.254 (mx.example.test) refused: address in [delivery] "
                                    "blocked_networks 169.254.0.0/16"}));
  EXPECT_TRUE(c.refused.is_permanent());

  CheckedRoute several = drop_blocked_endpoints(
      route_of({ep("127.0.0.9", "bad.dest.test"), ep("10.0.0.7", "bad.dest.test"), ep("::ffff:10.0.0.8", "worse.dest.test")}),
      cidrs({"127.0.0.9/32", "10.0.0.0/8"}));
  EXPECT_EQ(several.route, nullptr);
  EXPECT_EQ(several.refused.text,
            "delivery to 127.0.0.9 (bad.dest.test) refused: address in [delivery] blocked_networks 127.0.0.9/32 "
            "(and 2 more blocked addresses)")
      << "an IPv4-mapped IPv6 address is judged as IPv4";
  EXPECT_EQ(several.blocked.size(), 3u);
}

TEST(BlockedRoute, AnAddressLiteralIsNamedOnce) {
  // x@[169.254.169.254]: the host is the address itself.
  CheckedRoute c = drop_blocked_endpoints(route_of({ep("169.254.169.254", "169.254.169.254")}), default_blocked_cidrs());
  EXPECT_EQ(c.route, nullptr);
  EXPECT_EQ(c.refused.text, "delivery to 169.254.169.254 refused: address in [delivery] blocked_networks 169.254.0.0/16");
}

TEST(BlockedRoute, ConfiguredListReplacesTheDefaults) {
  RoutePtr r = route_of({ep("127.0.0.9", "bad.mx.test"), ep("127.0.0.2", "good.mx.test", 20)});
  CheckedRoute c = drop_blocked_endpoints(r, cidrs({"127.0.0.9/32"}));
  ASSERT_NE(c.route, nullptr);
  EXPECT_EQ(labels(c.route), std::vector<std::string>{"good.mx.test[127.0.0.2]:25"});
  // Loopback is not in the default list: single-host setups deliver on it.
  EXPECT_EQ(drop_blocked_endpoints(r, default_blocked_cidrs()).route, r);
}

}  // namespace
}  // namespace ringpost::engine
