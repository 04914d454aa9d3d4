// Where mail goes by DNS (RFC 5321 §5.1): MX preference order, equal preferences spread,
// implicit MX, MX behind a CNAME, null MX (RFC 7505) and NXDOMAIN bounces, address literals.
// Checked at the sinks on 127.0.0.2 / 127.0.0.3 and in the message status.
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

class MxRouting : public MxTest {};

TEST_F(MxRouting, AllMailGoesToTheMostPreferredMx) {
  auto& dns = make_dns({"mx.test"});
  dns.add({"pref.mx.test", "MX", 300, "10 a.mx.test"});
  dns.add({"pref.mx.test", "MX", 300, "20 b.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  constexpr int kMessages = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kMessages; ++i) ids.push_back(submit(fmt::format("user{}@pref.mx.test", i)));
  for (const auto& id : ids) {
    auto r = wait_final(id, 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r);
    EXPECT_EQ(r->attempts, 1) << describe(*r);
  }
  EXPECT_EQ(count_at("127.0.0.2"), kMessages) << diagnostics();
  EXPECT_EQ(count_at("127.0.0.3"), 0) << "the less preferred MX got mail while the preferred one worked";
  std::set<std::string> rcpts;
  for (const auto& m : sink("127.0.0.2").messages())
    for (const auto& r : m.rcpts) rcpts.insert(r);
  EXPECT_EQ(rcpts.size(), std::size_t(kMessages));
}

TEST_F(MxRouting, EqualPreferencesAreSpreadOverFreshLookups) {
  // RFC 5321 §5.1: equal-preference MXes are picked at random. ringpost shuffles them per
  // lookup, so with a 1 s TTL and one connection per message, a few rounds must reach both.
  // (Rounds of one message, each after the cached answer has expired.)
  auto& dns = make_dns({"mx.test"});
  dns.add({"equal.mx.test", "MX", 1, "10 a.mx.test"});
  dns.add({"equal.mx.test", "MX", 1, "10 b.mx.test"});
  dns.add({"a.mx.test", "A", 1, "127.0.0.2"});
  dns.add({"b.mx.test", "A", 1, "127.0.0.3"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  // One message per connection: an idle connection to the first host must not carry the next
  // round, or the test would measure connection reuse instead of the shuffle.
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.max_msgs_per_connection = 1}));

  // P(all 16 lookups put the same host first) = 2 * 2^-16.
  constexpr int kMaxRounds = 16;
  int rounds = 0;
  while (rounds < kMaxRounds && (count_at("127.0.0.2") == 0 || count_at("127.0.0.3") == 0)) {
    auto id = submit(fmt::format("round{}@equal.mx.test", rounds));
    auto r = wait_final(id, 20s);
    ASSERT_TRUE(r) << diagnostics();
    ASSERT_EQ(r->state, "delivered") << describe(*r);
    ++rounds;
    std::this_thread::sleep_for(1200ms);  // past the clamped 1 s TTL: the next message looks up again
  }
  EXPECT_GT(count_at("127.0.0.2"), 0) << "after " << rounds << " fresh lookups\n" << diagnostics();
  EXPECT_GT(count_at("127.0.0.3"), 0) << "after " << rounds << " fresh lookups\n" << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2") + count_at("127.0.0.3"), rounds);
  EXPECT_GE(stats().dns_lookups, rounds) << "each round should have been a fresh lookup";
}

// Regression test for a bug this test found (fixed): equal-preference MXes share load per connection,
// not one host of the pair for a whole TTL (RFC 5321 §5.1).
TEST_F(MxRouting, EqualPreferencesAreSpreadOverTheConnectionsOfOneLookup) {
  auto& dns = make_dns({"mx.test"});
  dns.add({"equal.mx.test", "MX", 300, "10 a.mx.test"});
  dns.add({"equal.mx.test", "MX", 300, "10 b.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2", {"-w", "1"});  // slow replies: the queue needs several connections
  start_sink("127.0.0.3", {"-w", "1"});
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.max_connections = 4, .max_msgs_per_connection = 2}));

  constexpr int kMessages = 40;
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < kMessages; ++i)
    batch.push_back({"sender@example.test", {fmt::format("user{}@equal.mx.test", i)}, "spread", "x"});
  auto ids = api().submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  for (const auto& id : *ids) {
    auto r = wait_final(id, 60s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r);
  }
  EXPECT_EQ(stats().dns_lookups, 1) << "one answer, cached for its 300 s TTL";
  const int a = count_at("127.0.0.2"), b = count_at("127.0.0.3");
  EXPECT_EQ(a + b, kMessages);
  EXPECT_GT(a, 0) << "127.0.0.2: " << a << ", 127.0.0.3: " << b;
  EXPECT_GT(b, 0) << "127.0.0.2: " << a << ", 127.0.0.3: " << b;
}

TEST_F(MxRouting, DomainWithOnlyAnAddressIsItsOwnImplicitMx) {
  auto& dns = make_dns({"mx.test"});
  dns.add({"aonly.mx.test", "A", 300, "127.0.0.2"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto r = wait_final(submit("user@aonly.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
  EXPECT_EQ(r->attempts, 1);
  ASSERT_EQ(count_at("127.0.0.2"), 1) << diagnostics();
  EXPECT_EQ(sink("127.0.0.2").messages()[0].rcpts, std::vector<std::string>{"user@aonly.mx.test"});
}

TEST_F(MxRouting, NullMxBouncesAtOnceWithoutTouchingAnyHost) {
  // The domain also has an A record: a resolver that fell back to the implicit MX would
  // deliver there, so an empty sink proves the null MX was honoured (RFC 7505 §3).
  auto& dns = make_dns({"mx.test"});
  dns.add({"nomail.mx.test", "MX", 300, "0 ."});
  dns.add({"nomail.mx.test", "A", 300, "127.0.0.2"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  const auto t0 = std::chrono::steady_clock::now();
  auto r = wait_final(submit("user@nomail.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "a null MX is final at the first attempt";
  EXPECT_EQ(r->state, "bounced") << describe(*r);
  EXPECT_EQ(r->attempts, 1) << describe(*r);
  ASSERT_TRUE(r->last_reply) << describe(*r);
  EXPECT_EQ(r->last_reply->code, 556) << describe(*r);
  EXPECT_EQ(r->last_reply->enhanced, "5.1.10") << describe(*r);
  EXPECT_EQ(count_at("127.0.0.2"), 0) << diagnostics();
  EXPECT_EQ(it::established_connections_to(mx_port(), "127.0.0.2"), 0);
  EXPECT_EQ(sink("127.0.0.2").counters().sessions, 0) << "a connection was made to the implicit MX";
}

TEST_F(MxRouting, NonexistentDomainBounces) {
  auto& dns = make_dns({"mx.test"});
  dns.add({"exists.mx.test", "A", 300, "127.0.0.2"});  // the zone has names, just not this one
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto r = wait_final(submit("user@nosuch.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "bounced") << describe(*r);
  EXPECT_EQ(r->attempts, 1) << describe(*r);
  ASSERT_TRUE(r->last_reply);
  EXPECT_EQ(r->last_reply->code, 550) << describe(*r);
  EXPECT_EQ(r->last_reply->enhanced, "5.1.2") << describe(*r);
  EXPECT_EQ(count_at("127.0.0.2"), 0);
}

TEST_F(MxRouting, MxTargetBehindACnameIsFollowed) {
  // RFC 2181 §10.3 says an MX should not name an alias; real MTAs follow it anyway.
  auto& dns = make_dns({"mx.test"});
  dns.add({"viacname.mx.test", "MX", 300, "10 alias.mx.test"});
  dns.add({"alias.mx.test", "CNAME", 300, "a.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto r = wait_final(submit("user@viacname.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2"), 1) << diagnostics();
}

TEST_F(MxRouting, MxHostThatIsAnIpLiteralIsSkipped) {
  // "10 127.0.0.2" is a (numeric) host name to DNS, never an address (RFC 5321 §5.1); the
  // sink at 127.0.0.2 would catch mail sent there. The next MX gets it.
  auto& dns = make_dns({"mx.test"});
  dns.add({"numeric.mx.test", "MX", 300, "10 127.0.0.2"});
  dns.add({"numeric.mx.test", "MX", 300, "20 b.mx.test"});
  dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto r = wait_final(submit("user@numeric.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r);
  EXPECT_EQ(count_at("127.0.0.3"), 1) << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2"), 0) << diagnostics();
}

// One MX host with an A (127.0.0.2) and an AAAA (::1) record, a sink on each.
class MxAddressFamilies : public MxTest {
 protected:
  void SetUp() override {
    MxTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto& dns = make_dns({"mx.test"});
    dns.add({"dual.mx.test", "MX", 300, "10 a.mx.test"});
    dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
    dns.add({"a.mx.test", "AAAA", 300, "::1"});
    ASSERT_NO_FATAL_FAILURE(start_dns());
  }
  void deliver_one() {
    auto r = wait_final(submit("user@dual.mx.test"), 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
    EXPECT_EQ(r->attempts, 1) << describe(*r);
  }
};

TEST_F(MxAddressFamilies, Ipv4IsTriedFirstByDefault) {
  start_sink("127.0.0.2");
  start_sink("::1");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());
  ASSERT_NO_FATAL_FAILURE(deliver_one());
  EXPECT_EQ(count_at("127.0.0.2"), 1) << diagnostics();
  EXPECT_EQ(count_at("::1"), 0);
}

TEST_F(MxAddressFamilies, Ipv6IsTriedFirstWithPreferIpv6) {
  start_sink("127.0.0.2");
  start_sink("::1");
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.prefer_ipv6 = true}));
  ASSERT_NO_FATAL_FAILURE(deliver_one());
  EXPECT_EQ(count_at("::1"), 1) << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2"), 0);
}

TEST_F(MxAddressFamilies, RefusedIpv4AddressFallsBackToIpv6InTheSameAttempt) {
  // The next address of the same host is tried at once, like the next MX.
  ASSERT_FALSE(it::port_is_listening(mx_port(), "127.0.0.2"));
  start_sink("::1");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());
  ASSERT_NO_FATAL_FAILURE(deliver_one());
  EXPECT_EQ(count_at("::1"), 1) << diagnostics();
}

TEST_F(MxRouting, AddressLiteralGoesToThatAddressOnTheDefaultMxPort) {
  // RFC 5321 §4.1.3: user@[127.0.0.2] names the host itself; no DNS is involved, and the
  // port is [defaults] mx_port (the literal has no domain section of its own).
  auto& dns = make_dns({"mx.test"});
  dns.add({"unused.mx.test", "A", 300, "127.0.0.9"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  // The API refuses address literals unless told otherwise (docs/security.md).
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.extra_toml = "[api]\nallow_address_literals = true\n"}));

  auto r = wait_final(submit("user@[127.0.0.2]"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
  EXPECT_EQ(r->attempts, 1);
  ASSERT_EQ(count_at("127.0.0.2"), 1) << diagnostics();
  EXPECT_EQ(count_at("127.0.0.3"), 0);
  EXPECT_EQ(sink("127.0.0.2").messages()[0].rcpts, std::vector<std::string>{"user@[127.0.0.2]"});
  EXPECT_EQ(stats().dns_lookups, 0) << "an address literal needs no lookup";
}

}  // namespace
}  // namespace ringpost::mx_test
