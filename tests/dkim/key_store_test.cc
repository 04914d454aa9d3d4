// Which entries sign for a From domain: exact match, and sub-domain fallback only where the
// configured parent says `subdomains`.
#include "dkim/key_store.h"

#include <gtest/gtest.h>

namespace ringpost::dkim {
namespace {

SignEntry entry(std::string domain, std::string selector, bool subdomains) {
  SignEntry e;
  e.domain = std::move(domain);
  e.selector = std::move(selector);
  e.subdomains = subdomains;
  return e;
}

std::vector<std::string> selectors(std::span<const SignEntry> entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.domain + "/" + e.selector);
  return out;
}

using V = std::vector<std::string>;

TEST(KeyStore, ExactDomainGetsAllItsEntriesInOrder) {
  KeyStore ks({entry("example.test", "rsa", false), entry("other.test", "x", false), entry("example.test", "ed", true)});
  EXPECT_EQ(selectors(ks.entries_for("example.test")), (V{"example.test/rsa", "example.test/ed"}));
  EXPECT_EQ(selectors(ks.entries_for("other.test")), (V{"other.test/x"}));
  EXPECT_EQ(ks.entry_count(), 3u);
  EXPECT_TRUE(ks.entries_for("unknown.test").empty());
}

TEST(KeyStore, SubdomainsFallBackOnlyToEntriesThatSaySo) {
  KeyStore ks({entry("example.test", "rsa", false), entry("example.test", "ed", true), entry("plain.test", "p", false)});
  EXPECT_EQ(selectors(ks.entries_for("news.example.test")), (V{"example.test/ed"}));
  EXPECT_EQ(selectors(ks.entries_for("a.b.c.example.test")), (V{"example.test/ed"}));
  EXPECT_TRUE(ks.entries_for("news.plain.test").empty());
  // A label boundary, not a suffix: "badexample.test" is not under "example.test".
  EXPECT_TRUE(ks.entries_for("badexample.test").empty());
}

TEST(KeyStore, NearestConfiguredParentDecides) {
  KeyStore ks({entry("example.test", "org", true), entry("b.example.test", "b", false)});
  EXPECT_EQ(selectors(ks.entries_for("b.example.test")), (V{"b.example.test/b"}));
  // b.example.test is configured without subdomains: its children stay unsigned rather than
  // falling further up to example.test.
  EXPECT_TRUE(ks.entries_for("a.b.example.test").empty());
  EXPECT_EQ(selectors(ks.entries_for("c.example.test")), (V{"example.test/org"}));
}

TEST(KeyStore, EmptyStore) {
  KeyStore ks;
  EXPECT_TRUE(ks.empty());
  EXPECT_TRUE(ks.entries_for("example.test").empty());
}

}  // namespace
}  // namespace ringpost::dkim
