// A permanent failure is final (RFC 5321 §4.2.1: 5yz, "do not repeat the exact request"): the
// recipients it concerns are bounced after one attempt and never tried again, however long the
// shard runs. These are the negative halves of tests/faults/reply_test.cc (Replies.*) and
// tests/integration/retry_bounce_test.cc (Bounce.PermanentFailureBounces), which used to sleep
// through a window for a wrongful retry; here the shard's clock is moved tick by tick across the
// whole retry schedule (10 s, then 20 s, until max_age, 60 s), so a retry at any moment is seen.
// The far side counts the commands it received (FakeNetwork::commands), as the integration
// tests' servers log them. A transient failure in the same set-up is retried within that window
// (the last test): what these tests would see if the engine mistook a 5yz for a 4yz.
#include "tests/delivery/shard_fixture.h"

namespace ringpost::engine::testing {
namespace {

class ShardPermanentFailure : public ShardTest {
 protected:
  static constexpr int64_t kScheduleEnd = t0 + 60'000;  // max_age: no attempt after this

  // fault.test by a static route to the sink; the server offers no CHUNKING, so the content
  // goes by DATA and ends with the final dot, as with the fault tests' server.
  Shard& start() {
    cfg->defaults.max_age = std::chrono::seconds(60);
    static_route("fault.test", "192.0.2.20", 2525);
    sink.config.chunking = false;
    serve("192.0.2.20:2525");
    return make_shards();
  }
  // One message to alice@ and bob@fault.test, in one transaction.
  static Delivery to_alice_and_bob(const std::string& id) {
    Delivery d = mail_to("fault.test", id);
    auto msg = std::make_shared<SpooledMessage>();
    msg->id = d.msg->id;
    msg->from = d.msg->from;
    msg->created_at_ms = d.msg->created_at_ms;
    msg->recipients = {"alice@fault.test", "bob@fault.test"};
    msg->body_at.store(d.msg->body_at.load());
    d.msg = std::move(msg);
    d.recipients = {RecipientRef{0, 0}, RecipientRef{1, 0}};
    return d;
  }
  // Runs the shard past the end of the retry schedule and checks that nothing more happened:
  // no event, no connection, no command of the kinds counted before.
  void expect_nothing_more_until_the_schedule_ends() {
    const std::size_t events = out.size();
    const int connects = net.connects_total();
    const int ehlo = net.commands("EHLO"), mail = net.commands("MAIL"), rcpt = net.commands("RCPT");
    settle_every_tick_until(kScheduleEnd + 10'000);
    EXPECT_EQ(net.commands("MAIL"), mail) << "a MAIL after the bounce: the message was tried again";
    EXPECT_EQ(net.commands("RCPT"), rcpt) << "a RCPT after the bounce: a recipient was tried again";
    EXPECT_EQ(net.commands("EHLO"), ehlo);
    EXPECT_EQ(net.connects_total(), connects);
    EXPECT_EQ(out.size(), events) << "a recipient changed state after its bounce";
    EXPECT_EQ(shards.front()->counters().queued.load(), 0u) << "something still waits to be retried";
  }
};

TEST_F(ShardPermanentFailure, Reject552AfterFinalDotBouncesEveryRecipientAndNeverRetries) {
  sink.config.data_5xx_pct = 100;  // "554 5.6.0 ..." after the final dot, reworded:
  sink.rewrite = {{"554 5.6.0", "552 5.3.4 message too big for this system"}};
  Shard& s = start();
  submit(s, "fault.test", to_alice_and_bob("m1"));

  settle(t0);
  EXPECT_EQ(net.commands("MAIL"), 1);
  EXPECT_EQ(net.commands("RCPT"), 2);
  EXPECT_EQ(net.commands("DATA"), 1);
  EXPECT_EQ(seen.messages_rejected, 1u) << "the server got the whole content and refused it";
  const auto bounced = of_state(queue::RecipientState::bounced);
  ASSERT_EQ(bounced.size(), 2u);
  ASSERT_EQ(out.size(), 2u) << "bounced at once, never deferred first";
  for (const auto& e : bounced) {
    EXPECT_EQ(e.attempts, 1u);
    EXPECT_EQ(e.reply.code, 552);
    EXPECT_EQ(e.reply.enhanced, "5.3.4");
    EXPECT_NE(e.reply.text.find("too big"), std::string::npos) << e.reply.text;
    EXPECT_EQ(e.at_ms, t0);
  }
  EXPECT_NE(bounced[0].recipient, bounced[1].recipient);

  expect_nothing_more_until_the_schedule_ends();
  EXPECT_EQ(net.commands("DATA"), 1);
  EXPECT_EQ(seen.messages_rejected, 1u);
  EXPECT_EQ(seen.messages, 0u);
}

TEST_F(ShardPermanentFailure, SizeOverTheEhloLimitBouncesLocallyWithoutMailAndNeverRetries) {
  sink.config.max_message_size = kBody.size() / 2;  // EHLO says "SIZE 12"; the message is larger
  Shard& s = start();
  submit(s, "fault.test", mail_to("fault.test", "m1"));

  settle(t0);
  EXPECT_EQ(net.commands("EHLO"), 1) << "the limit is learnt from EHLO";
  EXPECT_EQ(net.commands("MAIL"), 0) << "the server's SIZE limit was known from EHLO; MAIL is wasted";
  const auto bounced = of_state(queue::RecipientState::bounced);
  ASSERT_EQ(bounced.size(), 1u);
  ASSERT_EQ(out.size(), 1u) << "bounced at once, never deferred first";
  EXPECT_EQ(bounced[0].attempts, 1u);
  EXPECT_EQ(bounced[0].reply.code, 552);
  EXPECT_EQ(bounced[0].reply.enhanced, "5.3.4");
  EXPECT_NE(bounced[0].reply.text.find("exceeds the server's limit"), std::string::npos) << bounced[0].reply.text;

  expect_nothing_more_until_the_schedule_ends();
  EXPECT_EQ(net.commands("MAIL"), 0);
  EXPECT_EQ(seen.messages + seen.messages_rejected, 0u) << "no content ever reached the server";
}

TEST_F(ShardPermanentFailure, Rcpt550BouncesAfterOneAttemptAndNeverRetries) {
  sink.config.rcpt_5xx_pct = 100;  // "550 5.1.1 <rcpt@fault.test>: Recipient address rejected: ..."
  Shard& s = start();
  submit(s, "fault.test", mail_to("fault.test", "m1"));

  settle(t0);
  EXPECT_EQ(net.commands("RCPT"), 1);
  EXPECT_EQ(seen.recipients_rejected, 1u);
  const auto bounced = of_state(queue::RecipientState::bounced);
  ASSERT_EQ(bounced.size(), 1u);
  ASSERT_EQ(out.size(), 1u) << "bounced at once, never deferred first";
  EXPECT_EQ(bounced[0].attempts, 1u);
  EXPECT_EQ(bounced[0].reply.code, 550);
  EXPECT_EQ(bounced[0].reply.enhanced, "5.1.1");

  expect_nothing_more_until_the_schedule_ends();
  EXPECT_EQ(net.commands("RCPT"), 1);
  EXPECT_EQ(seen.recipients_rejected, 1u);
  EXPECT_EQ(seen.messages, 0u);
}

// The contrast: the same set-up with a 4yz after the final dot is retried on the schedule, so
// the window above is long enough to see a wrongful retry.
TEST_F(ShardPermanentFailure, A451AfterFinalDotIsRetriedWithinThatWindow) {
  sink.config.data_4xx_pct = 100;  // "451 4.3.0 ..." after the final dot, every time
  Shard& s = start();
  submit(s, "fault.test", to_alice_and_bob("m1"));

  settle(t0);
  ASSERT_EQ(net.commands("MAIL"), 1);
  ASSERT_EQ(of_state(queue::RecipientState::deferred).size(), 2u);
  settle_every_tick_until(t0 + 11'000);  // the first retry interval, 10 s, ±10 %
  EXPECT_EQ(net.commands("MAIL"), 2);
  settle_every_tick_until(kScheduleEnd + 10'000);
  EXPECT_GE(net.commands("MAIL"), 3);
  const auto expired = of_state(queue::RecipientState::expired);
  ASSERT_EQ(expired.size(), 2u) << "given up once max_age would be passed";
  EXPECT_EQ(expired[0].attempts, static_cast<uint32_t>(net.commands("MAIL")));
  EXPECT_TRUE(of_state(queue::RecipientState::bounced).empty());
}

}  // namespace
}  // namespace ringpost::engine::testing
