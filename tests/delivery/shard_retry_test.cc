// The Shard's retry heap (issue 20): a delivery that waits (a scheduled message, a deferral)
// comes back at its time on the shard's clock, never before. The heap is looked at by the
// shard's tick, every 50 ms of its clock (kTickMs): a delivery due at T is taken by the first
// tick at or after T, so a test that wants it at T exactly lets the tick before fall at T - 50.
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

using ShardRetry = ShardTest;

TEST_F(ShardRetry, ScheduledMessageWaitsInTheHeapUntilItsSendTime) {
  static_route("routed.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();
  Delivery d = mail_to("routed.test", "m1");
  auto msg = std::make_shared<SpooledMessage>();
  msg->id = d.msg->id;
  msg->from = d.msg->from;
  msg->created_at_ms = d.msg->created_at_ms;
  msg->send_at_ms = t0 + 10'000;
  msg->recipients = d.msg->recipients;
  msg->body_at.store(d.msg->body_at.load());
  d.msg = msg;
  submit(s, "routed.test", std::move(d));

  settle(t0);
  EXPECT_EQ(net.connects_total(), 0);
  EXPECT_EQ(s.counters().queued.load(), 1u) << "waiting in the retry heap";
  EXPECT_EQ(s.route_entries(), 0u) << "not routed before its time";
  settle(t0 + 9'950);
  EXPECT_EQ(net.connects_total(), 0) << "a tick before its time";
  EXPECT_TRUE(out.empty());

  settle(t0 + 10'000);
  EXPECT_EQ(net.connects_total(), 1);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().at_ms, t0 + 10'000);
  EXPECT_EQ(body_reads, 1u) << "the body was dropped while it waited and read back";
}

TEST_F(ShardRetry, DeferredDeliveryComesBackAtItsNextAttemptTimeNotBefore) {
  static_route("routed.test", "192.0.2.20", 2525);  // nobody listens yet: refused
  Shard& s = make_shards();
  submit(s, "routed.test", mail_to("routed.test", "m1"));

  settle(t0);
  ASSERT_EQ(net.connects_total(), 1);
  const auto deferred = of_state(queue::RecipientState::deferred);
  ASSERT_EQ(deferred.size(), 1u);
  EXPECT_EQ(deferred[0].attempts, 1u);
  const int64_t at = deferred[0].next_attempt_at_ms;
  // The first retry interval, 10 s, with its ±10 % jitter.
  EXPECT_GE(at, t0 + 9'000);
  EXPECT_LE(at, t0 + 11'000);

  serve("192.0.2.20:2525");
  settle(at - 1);  // a tick 1 ms before its time
  EXPECT_EQ(net.connects_total(), 1) << "retried before its time";
  EXPECT_EQ(delivered(), 0u);
  settle(at);  // no tick here: the next is 50 ms after the last
  EXPECT_EQ(net.connects_total(), 1);
  settle(at + 49);  // that tick
  EXPECT_EQ(net.connects_total(), 2);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().at_ms, at + 49);
  EXPECT_EQ(out.back().attempts, 2u);
}

TEST_F(ShardRetry, RecoveredDeferralsComeBackInTimeOrderEachAtItsOwnTime) {
  static_route("routed.test", "192.0.2.20", 2525);
  serve("192.0.2.20:2525");
  Shard& s = make_shards();
  // Handed in late-first: the heap, not the order of arrival, decides.
  for (auto [id, at] : {std::pair{"late", t0 + 20'000}, std::pair{"early", t0 + 5'000}}) {
    Delivery d = mail_to("routed.test", id);
    s.inbox().push(ShardJob{DeliveryJob{std::move(d.msg), "routed.test", std::move(d.recipients), nullptr, at}, nullptr});
  }
  settle(t0);
  EXPECT_EQ(net.connects_total(), 0);
  settle(t0 + 4'950);
  EXPECT_EQ(delivered(), 0u);
  settle(t0 + 5'000);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(out.back().msg->id, "early");
  EXPECT_EQ(out.back().at_ms, t0 + 5'000);
  settle(t0 + 19'950);
  EXPECT_EQ(delivered(), 1u);
  settle(t0 + 20'000);
  ASSERT_EQ(delivered(), 2u);
  EXPECT_EQ(out.back().msg->id, "late");
  EXPECT_EQ(out.back().at_ms, t0 + 20'000);
}

}  // namespace
}  // namespace ringpost::engine::testing
