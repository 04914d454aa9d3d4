// An operator's suspension of a domain as the admin API makes it (publish, then ask the shards:
// Shard::run_commands takes the change before it answers), on the shard's clock: mail submitted
// after the answer is held at once (deferred, next_attempt_at = the suspension's end, reported
// once), gets no RCPT for as long as the suspension lasts, not even over the site's idle pooled
// connection, and goes out in the same turn of the loop as the resume. The negative half of
// tests/shaping/admin_test.cc (Admin.SuspendResumeRetryNowBounceAll), which used to sleep
// through the window; SiteRollup.OperatorSuspensionHoldsOnlyThatDomain covers a suspension that
// runs out by itself and one domain of a shared site.
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

using ShardSuspension = ShardTest;

TEST_F(ShardSuspension, SuspendedDomainGetsNoRcptUntilResumedThenGoesOutAtOnce) {
  static_route("adm.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();
  // A site with a pooled connection, idle and ready, as the integration test has after its
  // first message.
  submit(s, "adm.test", mail_to("adm.test", "first"));
  settle(t0);
  ASSERT_EQ(delivered(), 1u);
  ASSERT_EQ(net.commands("RCPT"), 1);
  ASSERT_EQ(net.connects_total(), 1);

  // suspend {"for": "10m"}; the operator's answer comes once the shard has taken it.
  const int64_t t1 = t0 + 1'000, until = t1 + 600'000;
  settle(t1);  // the shard's tick runs here; the next is not due before t1 + 50
  DomainOverride suspended;
  suspended.suspended_until_ms = until;
  const uint64_t req = operator_override("adm.test", suspended);
  settle(t1);
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].request_id, req);
  // Submitted after the answer, in the same instant: no tick came between to pick the change
  // up, so it was taken with the request (what lets the integration test submit right after
  // the operator's 200).
  const std::size_t events = out.size();
  submit(s, "adm.test", mail_to("adm.test", "held"));
  settle(t1);
  ASSERT_EQ(out.size(), events + 1);
  const DeliveryEvent& held = out.back();
  EXPECT_EQ(held.msg->id, "held");
  EXPECT_EQ(held.state, queue::RecipientState::deferred);
  EXPECT_TRUE(held.hold);
  EXPECT_EQ(held.attempts, 0u) << "a hold is not an attempt";
  EXPECT_EQ(held.next_attempt_at_ms, until) << "shown with the suspension's end";
  EXPECT_EQ(held.reply.code, 451);
  EXPECT_NE(held.reply.text.find("suspended by an operator"), std::string::npos) << held.reply.text;
  EXPECT_EQ(net.commands("MAIL"), 1);
  EXPECT_EQ(net.commands("RCPT"), 1) << "the held message went out over the idle connection";

  // Two minutes of the suspension, tick by tick: past the pooled connection's idle timeout
  // (30 s) and the site's idle eviction (60 s), neither of which may release the mail.
  const int64_t t2 = t1 + 120'000;
  settle_every_tick_until(t2);
  EXPECT_EQ(net.commands("MAIL"), 1) << "a transaction while suspended";
  EXPECT_EQ(net.commands("RCPT"), 1) << "a RCPT while suspended";
  EXPECT_EQ(net.connects_total(), 1) << "a connection opened while suspended";
  EXPECT_EQ(net.commands("QUIT"), 1) << "the pooled connection timed out idle meanwhile";
  EXPECT_EQ(out.size(), events + 1) << "held once, not once per tick";
  EXPECT_EQ(s.counters().queued.load(), 1u) << "the held message still waits at its site";

  // resume: out in the same turn of the loop as the operator's answer.
  const uint64_t resume = operator_override("adm.test", DomainOverride{});
  settle(t2);
  ASSERT_EQ(answered.size(), 2u);
  EXPECT_EQ(answered[1].request_id, resume);
  ASSERT_EQ(delivered(), 2u);
  EXPECT_EQ(out.back().msg->id, "held");
  EXPECT_EQ(out.back().at_ms, t2);
  EXPECT_EQ(out.back().attempts, 1u);
  EXPECT_EQ(net.commands("RCPT"), 2);
  EXPECT_EQ(seen.messages, 2u);
}

}  // namespace
}  // namespace ringpost::engine::testing
