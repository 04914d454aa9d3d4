#include "engine/delivery/destination_limiter.h"

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

TEST(LocalDestinationLimiter, MessageAndConnectionBudgetsAreSeparateAndUnlimitedByDefault) {
  LocalDestinationLimiter l;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(l.take_message(0) && l.take_connection(0)) << i;
  EXPECT_EQ(l.message_rate(), std::nullopt);

  l.set_message_rate(10, 0);  // a destination starts with one token: no burst at the start
  l.set_connection_rate(1, 0);
  EXPECT_EQ(l.message_rate(), 10.0);
  int messages = 0;
  while (l.take_message(0)) ++messages;
  EXPECT_EQ(messages, 1);
  EXPECT_TRUE(l.take_connection(0)) << "spending the message budget must not touch the connection budget";
  EXPECT_FALSE(l.take_connection(0));
  EXPECT_TRUE(l.take_message(100)) << "10/s: one more after 100 ms";
  EXPECT_FALSE(l.take_message(100));
  EXPECT_TRUE(l.take_message(300) && l.take_message(300)) << "the bucket banks up to 2 (1 + a tenth of a second)";
  EXPECT_FALSE(l.take_message(300));
}

TEST(LocalDestinationLimiter, SettingTheSameRateAgainKeepsTheTokensSpent) {
  LocalDestinationLimiter l;
  l.set_message_rate(10, 0);
  while (l.take_message(0)) {
  }
  l.set_message_rate(10, 0);  // a policy refresh with nothing changed must not refill the bucket
  EXPECT_FALSE(l.take_message(0));
  l.set_message_rate(std::nullopt, 0);
  EXPECT_TRUE(l.take_message(0));
}

// The unit-level twin of Shaping.MsgsPerSecondFiftyDeliversFiveHundredInTenSeconds (which
// measures at a real sink, within a tolerance): on the fake clock the count is exact, whether the
// site asks every millisecond or only at each 50 ms shard tick, because the bucket banks a tenth
// of a second (5 tokens at 50/s) and a tick never finds more than 2.5 new ones.
TEST(LocalDestinationLimiter, FiftyPerSecondGrantsExactlyFiveHundredInTenSecondsAtAnyPollingCadence) {
  for (const int64_t step_ms : {1, 7, 20, 50}) {
    LocalDestinationLimiter l;
    l.set_message_rate(50, 0);
    int granted = 0;
    for (int64_t now = 0; now < 10'000; now += step_ms)
      while (l.take_message(now)) ++granted;
    // One token at the start, then one per 20 ms for 10 s, less the ones not yet due at the last poll.
    const int64_t last_poll = (10'000 - 1) / step_ms * step_ms;
    EXPECT_EQ(granted, 1 + last_poll / 20) << "polling every " << step_ms << " ms";
  }
}

TEST(LocalDestinationLimiter, ConnectionRateCountsExactlyOnTheFakeClock) {
  LocalDestinationLimiter l;
  l.set_connection_rate(2, 0);  // two new connections a second
  int opened = 0;
  // Polls half-way between due instants (25, 75, ... ms): a token due exactly at a poll is a
  // floating-point coin toss (0.1 added ten times is not 1.0), not a property of the limiter.
  for (int64_t now = 25; now < 60'000; now += 50)
    while (l.take_connection(now)) ++opened;
  EXPECT_EQ(opened, 1 + 119) << "one at the start, then one per 500 ms up to 59.975 s";
  EXPECT_TRUE(l.take_message(60'000)) << "no message rate set: messages are not limited by connections";
}

}  // namespace
}  // namespace ringpost::engine
