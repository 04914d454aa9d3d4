// parse_cidr, the default blocked ranges, blocked_by over IPv4, IPv6 and IPv4-mapped IPv6, and
// secret comparison.
#include "engine/security/network_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "engine/security/secret.h"

namespace ringpost::engine {
namespace {

sockaddr_storage addr(const char* text) {
  sockaddr_storage ss{};
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    ss.ss_family = AF_INET;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr), 1) << text;
    ss.ss_family = AF_INET6;
  }
  return ss;
}

const Cidr* blocked(const std::vector<Cidr>& list, const char* text) {
  const sockaddr_storage a = addr(text);
  return blocked_by(list, reinterpret_cast<const sockaddr*>(&a));
}

TEST(Cidr, Parses) {
  auto c = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, 8);
  EXPECT_EQ(parse_cidr("192.0.2.1")->prefix, 32);
  EXPECT_EQ(parse_cidr("fe80::/10")->family, AF_INET6);
  EXPECT_FALSE(parse_cidr("10.0.0.1/8"));    // host bits set
  EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/"));
  EXPECT_FALSE(parse_cidr("example.test"));
  EXPECT_FALSE(parse_cidr("::/129"));
}

TEST(Cidr, DefaultListBlocksMetadataLinkLocalAndDocumentationNotLoopback) {
  const std::vector<Cidr> list = default_blocked_cidrs();
  EXPECT_TRUE(blocked(list, "169.254.169.254"));
  EXPECT_TRUE(blocked(list, "0.0.0.0"));
  EXPECT_TRUE(blocked(list, "224.0.0.1"));
  EXPECT_TRUE(blocked(list, "255.255.255.255"));
  EXPECT_TRUE(blocked(list, "192.0.2.7"));
  EXPECT_TRUE(blocked(list, "fe80::1"));
  EXPECT_TRUE(blocked(list, "ff02::1"));
  EXPECT_TRUE(blocked(list, "2001:db8::5"));
  EXPECT_TRUE(blocked(list, "::ffff:169.254.169.254"));  // IPv4-mapped judged as IPv4
  EXPECT_FALSE(blocked(list, "127.0.0.1"));
  EXPECT_FALSE(blocked(list, "93.184.216.34"));
  EXPECT_FALSE(blocked(list, "2a00:1450::1"));
  EXPECT_EQ(blocked(list, "169.254.1.1")->text, "169.254.0.0/16");
}

TEST(Cidr, PrefixBoundaries) {
  const std::vector<Cidr> list = {*parse_cidr("198.18.0.0/15"), *parse_cidr("fe80::/10")};
  EXPECT_TRUE(blocked(list, "198.19.255.255"));
  EXPECT_FALSE(blocked(list, "198.20.0.0"));
  EXPECT_FALSE(blocked(list, "198.17.255.255"));
  EXPECT_TRUE(blocked(list, "febf::1"));
  EXPECT_FALSE(blocked(list, "fec0::1"));
}

TEST(Secret, BearerTokenAndEquality) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearerabc"));
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token(""));
  EXPECT_TRUE(secret_equals("token", "token"));
  EXPECT_FALSE(secret_equals("token", "tokeN"));
  EXPECT_FALSE(secret_equals("token", "token2"));
  EXPECT_FALSE(secret_equals("", "x"));
}

}  // namespace
}  // namespace ringpost::engine
