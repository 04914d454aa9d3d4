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

}  // namespace
}  // namespace ringpost::engine
