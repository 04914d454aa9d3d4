// [delivery] blocked_networks end to end (docs/security.md "Destinations"): an MX host, an
// implicit MX or an address literal that resolves into a blocked network is never connected
// to, and its recipients bounce with 550 5.7.1 naming the address and the range; a host with
// one blocked and one usable address is reached on the usable one; an operator's static route
// to the same address still delivers. Loopback is not blocked by default, so the test blocks
// 127.0.0.9/32 and puts a sink there: the sink's side says whether anything connected.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBlocked = "127.0.0.9";
const std::string kDeliveryToml = "[delivery]\nblocked_networks = [\"127.0.0.9/32\"]\n";

class MxBlocked : public MxTest {
 protected:
  void SetUp() override {
    MxTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto& dns = make_dns({"mx.test"});
    dns.add({"blocked.mx.test", "MX", 300, "10 bad.mx.test"});
    dns.add({"bad.mx.test", "A", 300, kBlocked});
    dns.add({"implicit.mx.test", "A", 300, kBlocked});  // no MX: the domain is its own MX
    // Preferred MX blocked, the next one usable.
    dns.add({"mixed.mx.test", "MX", 300, "10 bad.mx.test"});
    dns.add({"mixed.mx.test", "MX", 300, "20 good.mx.test"});
    dns.add({"good.mx.test", "A", 300, "127.0.0.2"});
    // One host, two addresses, one of them blocked.
    dns.add({"split.mx.test", "MX", 300, "10 split-host.mx.test"});
    dns.add({"split-host.mx.test", "A", 300, kBlocked});
    dns.add({"split-host.mx.test", "A", 300, "127.0.0.3"});
    ASSERT_NO_FATAL_FAILURE(start_dns());
  }

  void expect_refused(const std::string& rcpt, const std::string& host) {
    auto r = wait_final(submit(rcpt), 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "bounced") << describe(*r);
    EXPECT_EQ(r->attempts, 1) << describe(*r);
    ASSERT_TRUE(r->last_reply) << describe(*r);
    EXPECT_EQ(r->last_reply->code, 550) << describe(*r);
    EXPECT_EQ(r->last_reply->enhanced, "5.7.1") << describe(*r);
    const std::string who = host.empty() ? std::string(kBlocked) : fmt::format("{} ({})", kBlocked, host);
    EXPECT_EQ(r->last_reply->text,
              fmt::format("delivery to {} refused: address in [delivery] blocked_networks 127.0.0.9/32", who))
        << describe(*r);
  }

  void expect_delivered(const std::string& rcpt) {
    auto r = wait_final(submit(rcpt), 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
    EXPECT_EQ(r->attempts, 1) << describe(*r);
  }
};

TEST_F(MxBlocked, BlockedAddressesAreNeverConnectedToAndAllBlockedBounces) {
  start_sink(kBlocked);
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.extra_toml = kDeliveryToml + "[api]\nallow_address_literals = true\n"}));

  ASSERT_NO_FATAL_FAILURE(expect_refused("user@blocked.mx.test", "bad.mx.test"));
  ASSERT_NO_FATAL_FAILURE(expect_refused("user@implicit.mx.test", "implicit.mx.test"));
  ASSERT_NO_FATAL_FAILURE(expect_refused("user@[127.0.0.9]", ""));
  // Without the block, mixed.mx.test's mail would all go to its preferred MX, bad.mx.test.
  ASSERT_NO_FATAL_FAILURE(expect_delivered("user@mixed.mx.test"));
  EXPECT_EQ(count_at("127.0.0.2"), 1) << diagnostics();
  ASSERT_NO_FATAL_FAILURE(expect_delivered("user@split.mx.test"));
  EXPECT_EQ(count_at("127.0.0.3"), 1) << diagnostics();

  EXPECT_EQ(count_at(kBlocked), 0) << diagnostics();
  EXPECT_EQ(it::established_connections_to(mx_port(), kBlocked), 0);
  // Stopping ringpost closes whatever it had open; smtp-sink counts a session when it ends.
  EXPECT_TRUE(server().stop());
  EXPECT_EQ(sink(kBlocked).counters().sessions, 0) << "something connected to the blocked address\n" << diagnostics();
  EXPECT_GE(sink("127.0.0.2").counters().sessions, 1) << "the session counter itself works";
}

TEST_F(MxBlocked, AnOperatorsStaticRouteToABlockedAddressStillDelivers) {
  start_sink(kBlocked);
  // By address, and by a host name that resolves there (bad.mx.test): both are the operator's
  // choice. blocked.mx.test in the same run shows the list is in force.
  ASSERT_NO_FATAL_FAILURE(start_ringpost(
      {.extra_toml = kDeliveryToml + fmt::format("[domains.\"routed.test\"]\nroute = \"{}:{}\"\n"
                                                 "[domains.\"named-route.test\"]\nroute = \"bad.mx.test:{}\"\n",
                                                 kBlocked, mx_port(), mx_port())}));

  ASSERT_NO_FATAL_FAILURE(expect_delivered("user@routed.test"));
  ASSERT_NO_FATAL_FAILURE(expect_delivered("user@named-route.test"));
  ASSERT_NO_FATAL_FAILURE(expect_refused("user@blocked.mx.test", "bad.mx.test"));
  EXPECT_EQ(count_at(kBlocked), 2) << diagnostics();
  std::vector<std::string> rcpts;
  for (const auto& m : sink(kBlocked).messages())
    for (const auto& r : m.rcpts) rcpts.push_back(r);
  std::sort(rcpts.begin(), rcpts.end());
  EXPECT_EQ(rcpts, (std::vector<std::string>{"user@named-route.test", "user@routed.test"}));
}

}  // namespace
}  // namespace ringpost::mx_test
