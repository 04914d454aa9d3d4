// Next-MX fallback within one attempt (RFC 5321 §5.1: "try the next MX" when one cannot be
// reached or refuses service at the greeting), and a site failure when none works. The first
// MX is 127.0.0.2 (nothing listening, or a server answering 421), the second 127.0.0.3 (sink).
#include <chrono>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/mx/greeting_server.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

class MxFallback : public MxTest {
 protected:
  void add_two_mx(const std::string& domain) {
    auto& dns = make_dns({"mx.test"});
    dns.add({domain, "MX", 300, "10 a.mx.test"});
    dns.add({domain, "MX", 300, "20 b.mx.test"});
    dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
    dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  }
};

TEST_F(MxFallback, RefusedFirstMxDeliversViaTheSecondInTheFirstAttempt) {
  add_two_mx("refuse.mx.test");
  ASSERT_NO_FATAL_FAILURE(start_dns());
  ASSERT_FALSE(it::port_is_listening(mx_port(), "127.0.0.2")) << "something listens where nothing should";
  start_sink("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(fmt::format("user{}@refuse.mx.test", i)));
  for (const auto& id : ids) {
    auto r = wait_final(id, 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r);
    EXPECT_EQ(r->attempts, 1) << "fallback must happen within the attempt, not at the retry: " << describe(*r);
  }
  EXPECT_EQ(count_at("127.0.0.3"), 3) << diagnostics();
}

TEST_F(MxFallback, Greeting421OnFirstMxDeliversViaTheSecondInTheFirstAttempt) {
  add_two_mx("busy.mx.test");
  ASSERT_NO_FATAL_FAILURE(start_dns());
  auto busy = GreetingServer::start("127.0.0.2", mx_port(), "421 4.3.2 mx.test busy, try later");
  ASSERT_TRUE(busy) << busy.error();
  start_sink("127.0.0.3");
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto r = wait_final(submit("user@busy.mx.test"), 30s);
  ASSERT_TRUE(r) << diagnostics();
  EXPECT_EQ(r->state, "delivered") << describe(*r) << "\n" << diagnostics();
  EXPECT_EQ(r->attempts, 1) << describe(*r);
  EXPECT_GE((*busy)->connections(), 1) << "the preferred MX was never tried";
  EXPECT_EQ(count_at("127.0.0.3"), 1) << diagnostics();
}

TEST_F(MxFallback, EveryMxDownDefersTheMailNeverBounces) {
  // Neither 127.0.0.2 nor 127.0.0.3 listens: a site failure, retried later (4xx), not a
  // bounce. Once a sink appears on the second MX, the retry delivers.
  add_two_mx("down.mx.test");
  ASSERT_NO_FATAL_FAILURE(start_dns());
  ASSERT_NO_FATAL_FAILURE(start_ringpost());

  auto id = submit("user@down.mx.test");
  auto r = wait_state(id, "deferred", 20s);
  ASSERT_TRUE(r) << diagnostics();
  ASSERT_TRUE(r->last_reply) << describe(*r);
  EXPECT_EQ(r->last_reply->code / 100, 4) << describe(*r);
  EXPECT_EQ(r->last_reply->enhanced.substr(0, 2), "4.") << describe(*r);

  start_sink("127.0.0.3");
  auto done = wait_final(id, 30s);
  ASSERT_TRUE(done) << diagnostics();
  EXPECT_EQ(done->state, "delivered") << describe(*done);
  EXPECT_GE(done->attempts, 2) << describe(*done);
  EXPECT_EQ(count_at("127.0.0.3"), 1) << diagnostics();
}

}  // namespace
}  // namespace ringpost::mx_test
