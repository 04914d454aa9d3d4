// AuthThrottle on explicit times (no clock is read): the window, the per-address bound, the
// memory bound, the log line once per window.
#include "engine/security/auth_throttle.h"

#include <gtest/gtest.h>

#include <string>

namespace ringpost::engine {
namespace {

TEST(AuthThrottle, TwentyFailuresThenRefusedUntilTheWindowEnds) {
  AuthThrottle t(AuthThrottleConfig{20, 60'000, 100});
  int64_t now = 1'000'000;
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(t.refused("10.0.0.1", now)) << i;
    t.failed("10.0.0.1", now);
    now += 100;
  }
  EXPECT_TRUE(t.refused("10.0.0.1", now));
  EXPECT_FALSE(t.refused("10.0.0.2", now));  // another address is not affected
  EXPECT_EQ(t.retry_after_s("10.0.0.1", now), 58);  // the window began 2 s ago
  EXPECT_TRUE(t.refused("10.0.0.1", 1'000'000 + 59'999));
  EXPECT_FALSE(t.refused("10.0.0.1", 1'000'000 + 60'000));  // a new window
  EXPECT_EQ(t.failures_total(), 20u);
  EXPECT_EQ(t.refused_total(), 2u);
}

TEST(AuthThrottle, ZeroTurnsItOff) {
  AuthThrottle t(AuthThrottleConfig{0, 60'000, 100});
  for (int i = 0; i < 1000; ++i) t.failed("10.0.0.1", 5);
  EXPECT_FALSE(t.refused("10.0.0.1", 5));
  EXPECT_EQ(t.tracked(), 0u);
}

TEST(AuthThrottle, RemembersAtMostMaxSources) {
  AuthThrottle t(AuthThrottleConfig{2, 60'000, 3});
  for (int i = 0; i < 10; ++i) t.failed("10.0.0." + std::to_string(i), 1000 + i);
  EXPECT_EQ(t.tracked(), 3u);
  // The newest ones are kept: the oldest window goes first.
  t.failed("10.0.0.9", 2000);
  EXPECT_TRUE(t.refused("10.0.0.9", 2001));
}

TEST(AuthThrottle, LogsOncePerWindowWithTheCount) {
  AuthThrottle t(AuthThrottleConfig{1, 60'000, 100});
  t.failed("10.0.0.1", 0);
  EXPECT_FALSE(t.take_log_line(0));  // nothing refused yet
  EXPECT_TRUE(t.refused("10.0.0.1", 1));
  EXPECT_TRUE(t.refused("10.0.0.1", 2));
  auto line = t.take_log_line(3);
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("2 requests refused"), std::string::npos) << *line;
  EXPECT_NE(line->find("1 address"), std::string::npos) << *line;
  EXPECT_TRUE(t.refused("10.0.0.1", 4));
  EXPECT_FALSE(t.take_log_line(5));       // within the minute: not again
  EXPECT_TRUE(t.take_log_line(60'003));   // a minute later: the one refusal since
}

}  // namespace
}  // namespace ringpost::engine
