// MxResolver on a fake clock and an in-memory DNS server (issue 20): no sockets, no sleeps.
// The clock is the `now` the test passes to lookup() and tick(); c-ares' socket calls go to
// InMemoryDns (tests/mx/in_memory_dns.h), which answers from a zone the test writes.
//
// Why the fake sockets are eventfds polled by a real Ring, rather than a seam that tells the
// test which fds to poll and lets it call "process(fd)": the resolver's ring polling (PollOp,
// re-armed or freed as c-ares opens and closes sockets inside its own callbacks) is where the
// lifetime bugs of issue 20 lived, and this keeps that path the production one, under ASan too
// (scripts/asan.sh), with one setter as the only seam. An eventfd is readable exactly while the
// fake server has answers queued, and a poll on a ready fd completes during the submit, so
// Ring::run_once(0) dispatches every answer without waiting.
#include "engine/delivery/mx_resolver.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/ops/metrics/solo_counter.h"
#include "engine/runtime/ring.h"
#include "tests/dns/dns_message_builder.h"
#include "tests/mx/in_memory_dns.h"

namespace ringpost::engine {
namespace {

using namespace std::chrono_literals;
using dns::wire::kNxDomain;
using dns::wire::kServFail;
using dns::wire::kTypeA;
using dns::wire::kTypeAaaa;
using dns::wire::kTypeMx;
using testing::InMemoryDns;

std::string ip_of(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&e.addr)->sin_addr, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&e.addr)->sin6_addr, buf, sizeof buf);
  return buf;
}

class MxResolverUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      ring_.emplace(64);
    } catch (const std::exception& e) {
      GTEST_SKIP() << "no io_uring here: " << e.what();
    }
    // Never contacted (TEST-NET-1, RFC 5737): every query goes to the in-memory server.
    cfg_.dns.servers = {HostPort{"192.0.2.53", 53}};
    // c-ares times its retries on the real clock; an hour means none fires even on a slow
    // sanitizer run, so the wire carries exactly the queries the resolver asked for.
    cfg_.dns.timeout = 1h;
    // The defaults, spelled out because the expected expiries below are computed from them.
    cfg_.dns.min_ttl = 60s;
    cfg_.dns.max_ttl = 1h;
    cfg_.dns.negative_ttl = 30s;
  }

  void TearDown() override {
    // A poll still armed when the resolver goes would be leaked with the ring (ASan says so);
    // every test lets its lookups finish.
    if (resolver_) {
      EXPECT_EQ(resolver_->in_flight() + resolver_->waiting(), 0u) << "lookups left unfinished";
    }
  }

  // Built on first use, so a test can change cfg_ first.
  MxResolver& resolver() {
    if (!resolver_) {
      resolver_.emplace(*ring_, cfg_, [this](const std::string& name, MxResolver::Result r) {
        answers_.emplace_back(name, std::move(r));
      });
      resolver_->set_socket_functions(&dns_.functions(), &dns_);
      resolver_->set_wait_counter(&waited_);
    }
    return *resolver_;
  }

  // One turn of the shard's loop at `now` (tick, then the ring) without waiting. An answer can
  // start new queries whose answers are queued at once, so the ring runs until a pass finds
  // nothing to dispatch.
  void run_at(int64_t now) {
    resolver().tick(now);
    for (int i = 0; i < 100; ++i)
      if (ring_->run_once(0) == 0) return;
    FAIL() << "the ring never went quiet";
  }

  const MxResolver::Result& only_answer(const std::string& name) {
    static const MxResolver::Result kNone;  // no route and code 0: every check on it fails
    EXPECT_EQ(answers_.size(), 1u);
    if (answers_.empty()) return kNone;
    EXPECT_EQ(answers_[0].first, name);
    return answers_[0].second;
  }

  std::vector<std::string> endpoint_ips(const Route& route) {
    std::vector<std::string> out;
    for (const Endpoint& e : route.endpoints) out.push_back(ip_of(e));
    return out;
  }

  // Declared before the resolver, which is destroyed first: c-ares closes its sockets through
  // dns_ as the channel goes, and the resolver's polls belong to ring_.
  std::optional<Ring> ring_;
  InMemoryDns dns_;
  Config cfg_;
  SoloCounter waited_;
  std::vector<std::pair<std::string, MxResolver::Result>> answers_;
  std::optional<MxResolver> resolver_;
};

// Issue 20, defect 1: a second lookup of a name in flight used to replace (free) the first
// under c-ares. It joins instead: the server sees one question, the shard gets one answer.
TEST_F(MxResolverUnitTest, TwoLookupsOfOneNameInFlightSendOneQueryAndGetOneAnswer) {
  dns_.a("relay.test", 300, "192.0.2.9");
  resolver().lookup("relay.test", 1'000);
  resolver().lookup("relay.test", 1'000);
  EXPECT_EQ(resolver().in_flight(), 1u);
  run_at(2'000);
  EXPECT_EQ(dns_.count("relay.test", kTypeMx), 1u);
  EXPECT_EQ(dns_.count("relay.test", kTypeA), 1u);
  const auto& r = only_answer("relay.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(endpoint_ips(*r.route), std::vector<std::string>{"192.0.2.9"});
}

// Coalescing lasts only while the lookup is in flight: once answered, the name is asked again
// (the shard's cache, not the resolver, decides when that is needed).
TEST_F(MxResolverUnitTest, ALookupAfterTheAnswerAsksTheServerAgain) {
  dns_.a("relay.test", 300, "192.0.2.9");
  resolver().lookup("relay.test", 1'000);
  run_at(2'000);
  resolver().lookup("relay.test", 3'000);
  run_at(4'000);
  EXPECT_EQ(dns_.count("relay.test", kTypeMx), 2u);
  EXPECT_EQ(answers_.size(), 2u);
}

TEST_F(MxResolverUnitTest, DifferentNamesInFlightEachGetTheirOwnAnswer) {
  dns_.mx("one.test", 300, 10, "mx.one.test");
  dns_.a("mx.one.test", 300, "192.0.2.1");
  dns_.a("two.test", 300, "192.0.2.2");
  resolver().lookup("one.test", 1'000);
  resolver().lookup("two.test", 1'000);
  resolver().lookup("one.test", 1'000);
  EXPECT_EQ(resolver().in_flight(), 2u);
  run_at(2'000);
  ASSERT_EQ(answers_.size(), 2u);
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& [name, r] : answers_) {
    ASSERT_TRUE(r.route) << name << ": " << r.failure.text;
    got[name] = endpoint_ips(*r.route);
  }
  EXPECT_EQ(got["one.test"], std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(got["two.test"], std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(dns_.count("one.test", kTypeMx), 1u);
}

// [dns] max_lookups_in_flight, seen from the server: with a bound of 1 the server never holds
// more than one question, the names waiting are asked in the order they came, a name already
// waiting is not queued twice, and each wait is counted once.
TEST_F(MxResolverUnitTest, BeyondMaxLookupsInFlightNamesWaitTheirTurnInOrderAndEachWaitIsCounted) {
  cfg_.dns.max_lookups_in_flight = 1;
  for (const char* name : {"first.test", "second.test", "third.test"}) dns_.rcode(name, kNxDomain);
  dns_.hold(true);
  resolver().lookup("first.test", 1'000);
  resolver().lookup("second.test", 1'000);
  resolver().lookup("third.test", 1'000);
  resolver().lookup("second.test", 1'000);  // already waiting: joins
  EXPECT_EQ(resolver().in_flight(), 1u);
  EXPECT_EQ(resolver().waiting(), 2u);
  EXPECT_EQ(waited_.get(), 2u);

  std::size_t most_held = 0;
  int64_t now = 1'000;
  for (int i = 0; i < 10 && !dns_.held().empty(); ++i) {
    most_held = std::max(most_held, dns_.held().size());
    dns_.answer_oldest();
    run_at(now += 1'000);
  }
  EXPECT_EQ(most_held, 1u) << "more than one lookup on the wire at once";
  std::vector<std::string> asked, answered;
  for (const auto& q : dns_.queries()) asked.push_back(q.name);
  for (const auto& [name, r] : answers_) {
    answered.push_back(name);
    EXPECT_EQ(r.failure.code, 550) << name << ": " << r.failure.text;
  }
  const std::vector<std::string> in_order{"first.test", "second.test", "third.test"};
  EXPECT_EQ(asked, in_order);
  EXPECT_EQ(answered, in_order);
  EXPECT_EQ(resolver().waiting(), 0u);
  EXPECT_EQ(waited_.get(), 2u);
}

// The TTL counts from the clock the resolver last saw when the answer is read (tick at 5 000),
// not from when the lookup began (1 000); it is clamped to [min_ttl, max_ttl].
TEST_F(MxResolverUnitTest, ATtlBelowMinTtlExpiresAfterMinTtl) {
  dns_.a("short.test", 5, "192.0.2.5");
  resolver().lookup("short.test", 1'000);
  run_at(5'000);
  const auto& r = only_answer("short.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(r.expires_ms, 5'000 + 60'000);
  EXPECT_EQ(r.route->expires_ms, 5'000 + 60'000);
}

TEST_F(MxResolverUnitTest, ATtlAboveMaxTtlExpiresAfterMaxTtl) {
  dns_.mx("long.test", 86'400, 10, "mx.long.test");
  dns_.a("mx.long.test", 86'400, "192.0.2.6");
  resolver().lookup("long.test", 1'000);
  run_at(5'000);
  const auto& r = only_answer("long.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(r.expires_ms, 5'000 + 3'600'000);
  EXPECT_EQ(r.route->expires_ms, 5'000 + 3'600'000);
}

// A route is as fresh as the shortest-lived record it was built from: here the MX host's A
// record (300 s), not the MX record (600 s).
TEST_F(MxResolverUnitTest, ARouteExpiresWithTheShortestTtlOfItsMxAndAddressRecords) {
  dns_.mx("mid.test", 600, 10, "mx.mid.test");
  dns_.a("mx.mid.test", 300, "192.0.2.7");
  resolver().lookup("mid.test", 1'000);
  run_at(5'000);
  const auto& r = only_answer("mid.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(r.expires_ms, 5'000 + 300'000);
}

TEST_F(MxResolverUnitTest, NxdomainIsAPermanentFailure) {
  dns_.rcode("gone.test", kNxDomain);
  resolver().lookup("gone.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("gone.test");
  EXPECT_FALSE(r.route);
  EXPECT_EQ(r.failure.code, 550);
  EXPECT_EQ(r.failure.enhanced, "5.1.2");
  EXPECT_EQ(dns_.count("gone.test", kTypeA), 0u) << "no implicit MX for a domain that does not exist";
}

// [dns] negative_ttl bounds how long a bounce-worthy answer is believed, also when it is below
// min_ttl (the README's own example: min_ttl 60 s, negative_ttl 30 s). Clamping the negative
// TTL up to min_ttl afterwards made that setting dead: NXDOMAIN was kept 60 s, not 30 s.
TEST_F(MxResolverUnitTest, NegativeAnswersLiveNoLongerThanNegativeTtlEvenBelowMinTtl) {
  dns_.soa(3'600, 300);  // RFC 2308 §5: min(SOA TTL, SOA MINIMUM) = 300 s
  dns_.rcode("gone.test", kNxDomain);
  resolver().lookup("gone.test", 1'000);
  run_at(2'000);
  EXPECT_EQ(only_answer("gone.test").expires_ms, 2'000 + 30'000);
}

// Under both bounds the zone's own negative TTL rules, clamped up to min_ttl as any answer.
TEST_F(MxResolverUnitTest, NegativeAnswersBelowNegativeTtlLiveTheirSoaTtlClampedToMinTtl) {
  cfg_.dns.min_ttl = 5s;
  dns_.soa(3'600, 10);
  dns_.rcode("gone.test", kNxDomain);
  dns_.rcode("gone2.test", kNxDomain);
  resolver().lookup("gone.test", 1'000);
  run_at(2'000);
  EXPECT_EQ(only_answer("gone.test").expires_ms, 2'000 + 10'000);
  answers_.clear();
  dns_.soa(3'600, 1);
  resolver().lookup("gone2.test", 3'000);
  run_at(4'000);
  EXPECT_EQ(only_answer("gone2.test").expires_ms, 4'000 + 5'000);
}

// SERVFAIL says nothing about the domain: try later, and ask again after min_ttl.
TEST_F(MxResolverUnitTest, ServfailIsATransientFailureRememberedForMinTtl) {
  dns_.rcode("broken.test", kServFail);
  resolver().lookup("broken.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("broken.test");
  EXPECT_FALSE(r.route);
  EXPECT_EQ(r.failure.code, 451);
  EXPECT_EQ(r.failure.enhanced, "4.4.3");
  EXPECT_EQ(r.expires_ms, 2'000 + 60'000);
}

// RFC 7505 §3: "0 ." means the domain takes no mail; bounce at once, look up no address.
TEST_F(MxResolverUnitTest, NullMxIsAPermanentFailureWithNoAddressLookup) {
  dns_.mx("nomail.test", 3'600, 0, ".");
  dns_.a("nomail.test", 3'600, "192.0.2.8");  // would be the implicit MX, were the null MX ignored
  resolver().lookup("nomail.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("nomail.test");
  EXPECT_FALSE(r.route);
  EXPECT_EQ(r.failure.code, 556);
  EXPECT_EQ(r.failure.enhanced, "5.1.10");
  EXPECT_EQ(r.expires_ms, 2'000 + 30'000);  // negative_ttl
  EXPECT_EQ(dns_.count("nomail.test", kTypeA), 0u);
  EXPECT_EQ(dns_.count("nomail.test", kTypeAaaa), 0u);
}

// RFC 5321 §5.1: MX hosts are tried in preference order (the records arrive in another order
// here), each host's addresses IPv4 first by default; every endpoint names its MX host (TLS
// verification) and carries its preference; the site key groups hosts by preference.
TEST_F(MxResolverUnitTest, MxHostsAddressesBecomeEndpointsInPreferenceOrder) {
  dns_.mx("dest.test", 300, 20, "b.mx.test");
  dns_.mx("dest.test", 300, 10, "a.mx.test");
  dns_.mx("dest.test", 300, 30, "c.mx.test");
  dns_.aaaa("a.mx.test", 300, "2001:db8::10");
  dns_.a("a.mx.test", 300, "192.0.2.10");
  dns_.a("b.mx.test", 300, "192.0.2.20");
  dns_.a("c.mx.test", 300, "192.0.2.30");
  dns_.a("c.mx.test", 300, "192.0.2.31");
  resolver().lookup("dest.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("dest.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(endpoint_ips(*r.route),
            (std::vector<std::string>{"192.0.2.10", "2001:db8::10", "192.0.2.20", "192.0.2.30", "192.0.2.31"}));
  std::vector<std::string> hosts;
  std::vector<uint16_t> prefs;
  for (const Endpoint& e : r.route->endpoints) {
    hosts.push_back(e.host);
    prefs.push_back(e.preference);
  }
  EXPECT_EQ(hosts, (std::vector<std::string>{"a.mx.test", "a.mx.test", "b.mx.test", "c.mx.test", "c.mx.test"}));
  EXPECT_EQ(prefs, (std::vector<uint16_t>{10, 10, 20, 30, 30}));
  EXPECT_EQ(r.route->site, "mx:10=a.mx.test;20=b.mx.test;30=c.mx.test");
  for (const char* host : {"a.mx.test", "b.mx.test", "c.mx.test"}) {
    EXPECT_EQ(dns_.count(host, kTypeA), 1u) << host;
    EXPECT_EQ(dns_.count(host, kTypeAaaa), 1u) << host;
  }
  EXPECT_EQ(dns_.count("dest.test", kTypeA), 0u) << "an MX answer means no implicit MX";
}

TEST_F(MxResolverUnitTest, PreferIpv6PutsEachHostsIpv6AddressesFirst) {
  cfg_.dns.prefer_ipv6 = true;
  dns_.mx("dest.test", 300, 10, "a.mx.test");
  dns_.mx("dest.test", 300, 20, "b.mx.test");
  dns_.a("a.mx.test", 300, "192.0.2.10");
  dns_.aaaa("a.mx.test", 300, "2001:db8::10");
  dns_.a("b.mx.test", 300, "192.0.2.20");
  dns_.aaaa("b.mx.test", 300, "2001:db8::20");
  resolver().lookup("dest.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("dest.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  EXPECT_EQ(endpoint_ips(*r.route),
            (std::vector<std::string>{"2001:db8::10", "192.0.2.10", "2001:db8::20", "192.0.2.20"}));
}

// RFC 5321 §5.1: no MX records → the domain itself is the mail host, at preference 0.
TEST_F(MxResolverUnitTest, NoMxButAnAddressIsTheImplicitMx) {
  dns_.a("bare.test", 300, "192.0.2.40");
  resolver().lookup("bare.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("bare.test");
  ASSERT_TRUE(r.route) << r.failure.text;
  ASSERT_EQ(endpoint_ips(*r.route), std::vector<std::string>{"192.0.2.40"});
  EXPECT_EQ(r.route->endpoints[0].host, "bare.test");
  EXPECT_EQ(r.route->endpoints[0].preference, 0);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&r.route->endpoints[0].addr)->sin_port), 25);
  EXPECT_EQ(r.route->site, "mx:0=bare.test");
}

// MX hosts that have no address: nothing to connect to, but the zone may be mid-change, so
// the failure is transient and remembered only for min_ttl.
TEST_F(MxResolverUnitTest, MxHostsWithoutAddressesAreATransientFailure) {
  dns_.mx("dangling.test", 300, 10, "nowhere.test");
  resolver().lookup("dangling.test", 1'000);
  run_at(2'000);
  const auto& r = only_answer("dangling.test");
  EXPECT_FALSE(r.route);
  EXPECT_EQ(r.failure.code, 451);
  EXPECT_EQ(r.failure.enhanced, "4.4.4");
  EXPECT_EQ(r.expires_ms, 2'000 + 60'000);
}

}  // namespace
}  // namespace ringpost::engine
