// SmtpConnection's phase deadlines (RFC 5321 §4.5.3.2): a server that stops answering is given
// up on exactly when the phase's timeout has passed on the shard's clock, not a tick before.
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteDeadline = SiteTest;

TEST_F(SiteDeadline, DataInitiationFiresExactlyAtItsTimeout) {
  DeliveryPolicy p = policy();
  p.chunking = false;
  p.timeouts.data = std::chrono::minutes(2);  // RFC 5321 §4.5.3.2.3: DATA initiation, 2 minutes
  sink.config.chunking = false;
  sink.swallow = "354";  // MAIL and RCPT answered, DATA never
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  Site& s = make_site(p, {mx});
  enqueue("dest.test", 1);
  const int64_t t0 = host.now_ms;
  host.settle(s);
  ASSERT_EQ(s.connection_count(), 1u);
  ASSERT_TRUE(host.reports.empty());
  const int64_t deadline = t0 + 120'000;
  EXPECT_EQ(s.next_due_ms(t0, 50), deadline);

  host.step(s, deadline - 1);
  EXPECT_TRUE(host.reports.empty()) << "not a millisecond early";
  EXPECT_EQ(s.connection_count(), 1u);

  host.step(s, deadline);
  ASSERT_EQ(host.count(queue::RecipientState::deferred), 1u);
  const auto& r = host.reports.back();
  EXPECT_EQ(r.reply.code, 451);
  EXPECT_NE(r.reply.text.find("timeout"), std::string::npos) << r.reply.text;
  EXPECT_EQ(r.at_ms, deadline);
  EXPECT_EQ(s.connection_count(), 0u);
}

TEST_F(SiteDeadline, GreetingCountsFromTheConnect) {
  // The deadline is armed at the shard's time of the completion that left the session
  // waiting (after_io), not when the command went out: here the connect completes a second
  // after it was started, and the 5-minute greeting timeout (RFC 5321 §4.5.3.2.1) counts
  // from then.
  DeliveryPolicy p = policy();
  p.timeouts.greeting = std::chrono::minutes(5);
  sink.swallow = "220";  // a server that accepts the connection and never greets
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  Site& s = make_site(p, {mx});
  enqueue("dest.test", 1);
  const int64_t t0 = host.now_ms;
  s.pump(t0);
  host.now_ms = t0 + 1000;
  host.settle(s);  // connected; the greeting never comes
  ASSERT_EQ(s.connection_count(), 1u);
  const int64_t deadline = t0 + 1000 + 300'000;
  host.step(s, deadline - 1);
  EXPECT_TRUE(host.defers.empty());
  EXPECT_EQ(s.connection_count(), 1u);
  host.step(s, deadline);
  // The only endpoint failed before EHLO: a site failure, the queue deferred.
  ASSERT_EQ(host.defers.size(), 1u);
  EXPECT_NE(host.defers[0].why.text.find("timeout"), std::string::npos) << host.defers[0].why.text;
  EXPECT_EQ(s.connection_count(), 0u);
}

}  // namespace
}  // namespace ringpost::engine::testing
