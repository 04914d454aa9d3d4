// The straight path (issue 20, docs/architecture.md "One message's path"): a domain's DNS answer
// is looked up and cached on the domain's shard only, and a retry goes back to its site with
// the route it was on, without a second lookup, while that route's TTL holds.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/delivery/shard.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

TEST(StraightPathSetup, SomeDomainHashesToAnotherShardThanItsSite) {
  // The test below needs a domain routed on one shard whose site lives on the other; make sure
  // the search it does finds one (the mapping is a fixed hash, so this cannot flake).
  const std::string site = "mx:10=a.mx.test";
  bool found = false;
  for (int i = 0; i < 16 && !found; ++i)
    found = engine::shard_for_domain(fmt::format("d{}.mx.test", i), 2) != engine::shard_for_domain(site, 2);
  EXPECT_TRUE(found);
}

class StraightPath : public MxTest {};

TEST_F(StraightPath, ARetryGoesBackToItsSiteWithoutASecondLookup) {
  // Two shards, and a domain whose site ("mx:10=a.mx.test") is owned by the other shard: the
  // first attempt is a hop from the domain's shard to the site's. Before the straight path, the
  // retry ran route() on the site's shard, which had no cached answer: a second lookup of the
  // same name, and a second DNS cache of it.
  const std::string site = "mx:10=a.mx.test";
  std::string domain;
  for (int i = 0; i < 16 && domain.empty(); ++i) {
    std::string d = fmt::format("d{}.mx.test", i);
    if (engine::shard_for_domain(d, 2) != engine::shard_for_domain(site, 2)) domain = d;
  }
  ASSERT_FALSE(domain.empty());
  auto& dns = make_dns({"mx.test"});
  dns.add({domain, "MX", 300, "10 a.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  // No server on 127.0.0.2 yet: the first attempt is refused and deferred (retry after 1 s).
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.threads = 2}));
  std::string id;
  ASSERT_NO_FATAL_FAILURE(id = submit("someone@" + domain));
  auto deferred = wait_state(id, "deferred", 20s);
  ASSERT_TRUE(deferred) << diagnostics();
  start_sink("127.0.0.2");
  auto r = wait_final(id, 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r);
  EXPECT_GE(r->attempts, 2) << describe(*r);
  EXPECT_EQ(stats().dns_lookups, 1) << "the retry must reuse the route it was on (TTL 300 s)\n" << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2"), 1);
}

}  // namespace
}  // namespace ringpost::mx_test
