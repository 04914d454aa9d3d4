#include "queue/retry_policy.h"

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kCreated = 1'700'000'000'000;

TEST(RetryPolicy, FollowsTheScheduleThenRepeatsTheLastEntry) {
  const RetryPolicy p({1min, 5min, 30min}, std::chrono::hours(24 * 5));
  const int64_t now = kCreated + 1000;
  EXPECT_EQ(p.next_attempt_at_ms(1, kCreated, now), now + 60'000);
  EXPECT_EQ(p.next_attempt_at_ms(2, kCreated, now), now + 300'000);
  EXPECT_EQ(p.next_attempt_at_ms(3, kCreated, now), now + 1'800'000);
  EXPECT_EQ(p.next_attempt_at_ms(4, kCreated, now), now + 1'800'000);
  EXPECT_EQ(p.next_attempt_at_ms(1000, kCreated, now), now + 1'800'000);
  EXPECT_EQ(p.next_attempt_at_ms(UINT32_MAX, kCreated, now), now + 1'800'000);
}

TEST(RetryPolicy, ZeroAttemptsIsTreatedAsTheFirst) {
  const RetryPolicy p({1min, 5min}, 24h);
  EXPECT_EQ(p.next_attempt_at_ms(0, kCreated, kCreated), kCreated + 60'000);
}

TEST(RetryPolicy, MaxAgeCutOff) {
  const RetryPolicy p({10min}, 1h);
  // Next attempt lands exactly at created + max_age: still allowed.
  EXPECT_EQ(p.next_attempt_at_ms(3, kCreated, kCreated + 50 * 60'000), kCreated + 3'600'000);
  // One millisecond later it would be too old.
  EXPECT_EQ(p.next_attempt_at_ms(3, kCreated, kCreated + 50 * 60'000 + 1), std::nullopt);
  // Already past max age.
  EXPECT_EQ(p.next_attempt_at_ms(3, kCreated, kCreated + 2 * 3'600'000), std::nullopt);
}

TEST(RetryPolicy, MaxAgeIsMeasuredFromCreationNotFromNow) {
  const RetryPolicy p({30min}, 1h);
  EXPECT_TRUE(p.next_attempt_at_ms(1, kCreated, kCreated + 29 * 60'000).has_value());
  EXPECT_FALSE(p.next_attempt_at_ms(1, kCreated, kCreated + 31 * 60'000).has_value());
}

TEST(RetryPolicy, EmptyScheduleNeverRetries) {
  const RetryPolicy p({}, 24h);
  EXPECT_EQ(p.next_attempt_at_ms(1, kCreated, kCreated), std::nullopt);
}

TEST(RetryPolicy, NegativeDelaysAreClampedToZero) {
  const RetryPolicy p({-5min}, 1h);
  EXPECT_EQ(p.next_attempt_at_ms(1, kCreated, kCreated + 10), kCreated + 10);
}

TEST(RetryPolicy, ExtremeTimesExpireInsteadOfOverflowing) {
  const RetryPolicy p({1h}, std::chrono::milliseconds(INT64_MAX));
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, INT64_MAX - 10), std::nullopt);       // now + delay overflows
  EXPECT_EQ(p.next_attempt_at_ms(1, INT64_MIN, 1'000), std::nullopt);        // age overflows
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0), 3'600'000);
}

}  // namespace
}  // namespace ringpost::queue

namespace ringpost::queue {
namespace {

TEST(RetryPolicyJitter, StretchesTheDelayByAtMostTenPercentEitherWay) {
  using std::chrono::seconds;
  RetryPolicy p({seconds(100)}, seconds(1000));
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 0.0), 100'000);
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 1.0), 110'000);
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, -1.0), 90'000);
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 0.5), 105'000);
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 7.0), 110'000) << "out-of-range jitter is clamped";
}

TEST(RetryPolicyJitter, NeverPushesAnAttemptPastMaxAge) {
  using std::chrono::seconds;
  RetryPolicy p({seconds(100)}, seconds(105));
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 0.0), 100'000);
  EXPECT_EQ(p.next_attempt_at_ms(1, 0, 0, 1.0), std::nullopt) << "110 s would be older than max_age 105 s";
}

}  // namespace
}  // namespace ringpost::queue
