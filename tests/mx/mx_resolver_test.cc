// MxResolver on its own (no shard, no server): a real Ring and a real authoritative DNS server
// (Knot, tests/dns_support) on loopback, the resolver driven by hand. Runs under
// AddressSanitizer too (CMakePresets.json "asan", .ci/run), where a lookup freed while c-ares
// still holds it is a reported heap-use-after-free rather than luck.
#include "engine/delivery/mx_resolver.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/runtime/ring.h"
#include "tests/dns_support/authoritative_dns.h"

namespace ringpost::engine {
namespace {

using testing::AuthoritativeDns;

std::string address_of(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&e.addr);
  inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
  return buf;
}

class MxResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = AuthoritativeDns::unavailable_reason()) GTEST_SKIP() << *why;
    dns_.emplace(AuthoritativeDns::Options{.zones = {"route.test"}});
    dns_->add({"relay.route.test", "A", 60, "127.0.0.9"});
    dns_->add({"other.route.test", "MX", 60, "10 relay.route.test"});
    auto started = dns_->start();
    ASSERT_TRUE(started) << started.error();
    cfg_.dns.servers = {HostPort{"127.0.0.1", dns_->port()}};
    resolver_.emplace(ring_, cfg_, [this](const std::string& name, MxResolver::Result r) {
      answers_.emplace_back(name, std::move(r));
    });
  }

  // Runs the ring until `n` answers came, then a little longer to catch any extra one. Bounded.
  void run_until(std::size_t n) {
    int64_t now = 0;
    for (int i = 0; i < 500 && answers_.size() < n; ++i, now += 10) {
      ring_.run_once(10);
      resolver_->tick(now);
    }
    for (int i = 0; i < 20; ++i, now += 10) {
      ring_.run_once(10);
      resolver_->tick(now);
    }
  }

  std::optional<AuthoritativeDns> dns_;
  Config cfg_;
  Ring ring_;
  std::optional<MxResolver> resolver_;
  std::vector<std::pair<std::string, MxResolver::Result>> answers_;
};

// Issue 20, defect 1: two domains whose static route names one host asked for that host twice
// while the first lookup was in flight, and the second replaced (freed) the first under c-ares.
// One lookup per name: the second joins the first, and its waiters get the one answer.
TEST_F(MxResolverTest, ASecondLookupOfANameInFlightJoinsTheFirst) {
  resolver_->lookup("relay.route.test", 0);
  resolver_->lookup("relay.route.test", 0);
  run_until(1);
  ASSERT_EQ(answers_.size(), 1u);
  EXPECT_EQ(answers_[0].first, "relay.route.test");
  ASSERT_TRUE(answers_[0].second.route) << answers_[0].second.failure.text;
  ASSERT_EQ(answers_[0].second.route->endpoints.size(), 1u);
  EXPECT_EQ(address_of(answers_[0].second.route->endpoints[0]), "127.0.0.9");
}

TEST_F(MxResolverTest, DifferentNamesInFlightTogetherEachGetTheirAnswer) {
  resolver_->lookup("relay.route.test", 0);
  resolver_->lookup("other.route.test", 0);
  resolver_->lookup("relay.route.test", 0);
  run_until(2);
  ASSERT_EQ(answers_.size(), 2u);
  for (const auto& [name, r] : answers_) {
    ASSERT_TRUE(r.route) << name << ": " << r.failure.text;
    ASSERT_FALSE(r.route->endpoints.empty()) << name;
    EXPECT_EQ(address_of(r.route->endpoints[0]), "127.0.0.9") << name;
  }
  EXPECT_NE(answers_[0].first, answers_[1].first);
}

// [dns] max_lookups_in_flight: a burst of new domains is looked up a bounded number at a time
// (the rest wait in order, each wait counted); every one still gets its answer, and a name
// already waiting is not queued twice.
TEST_F(MxResolverTest, LookupsBeyondTheInFlightBoundWaitTheirTurnAndAllAreAnswered) {
  cfg_.dns.max_lookups_in_flight = 1;
  SoloCounter waited;
  resolver_->set_wait_counter(&waited);
  resolver_->lookup("relay.route.test", 0);
  resolver_->lookup("other.route.test", 0);
  resolver_->lookup("nxdomain.route.test", 0);
  resolver_->lookup("other.route.test", 0);  // already waiting: joins, no second entry
  EXPECT_EQ(resolver_->in_flight(), 1u);
  EXPECT_EQ(resolver_->waiting(), 2u);
  EXPECT_EQ(waited.get(), 2u);
  int64_t now = 0;
  std::size_t most_in_flight = 0;
  for (int i = 0; i < 500 && answers_.size() < 3; ++i, now += 10) {
    ring_.run_once(10);
    resolver_->tick(now);
    most_in_flight = std::max(most_in_flight, resolver_->in_flight());
  }
  ASSERT_EQ(answers_.size(), 3u);
  EXPECT_LE(most_in_flight, 1u);
  EXPECT_EQ(resolver_->waiting(), 0u);
  EXPECT_EQ(answers_[0].first, "relay.route.test") << "waiting names start in the order they came";
  EXPECT_EQ(answers_[1].first, "other.route.test");
  EXPECT_EQ(answers_[2].first, "nxdomain.route.test");
  EXPECT_TRUE(answers_[1].second.route) << answers_[1].second.failure.text;
  EXPECT_EQ(answers_[2].second.failure.code, 550) << answers_[2].second.failure.text;
}

TEST_F(MxResolverTest, ALookupAfterTheAnswerAsksAgain) {
  resolver_->lookup("relay.route.test", 0);
  run_until(1);
  resolver_->lookup("relay.route.test", 1000);
  run_until(2);
  EXPECT_EQ(answers_.size(), 2u);
}

}  // namespace
}  // namespace ringpost::engine
