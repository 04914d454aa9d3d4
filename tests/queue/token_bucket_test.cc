// TokenBucket and rate strings. The bucket is driven by a fake clock here; the ±5 % over 10 s
// promise is checked end to end against a real server in tests/shaping.
#include "queue/token_bucket.h"

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

TEST(ParseRate, UnitsAndBareNumbers) {
  EXPECT_DOUBLE_EQ(*parse_rate("50"), 50);
  EXPECT_DOUBLE_EQ(*parse_rate("50/s"), 50);
  EXPECT_DOUBLE_EQ(*parse_rate("300/min"), 5);
  EXPECT_DOUBLE_EQ(*parse_rate("3600/h"), 1);
  EXPECT_DOUBLE_EQ(*parse_rate("2.5/s"), 2.5);
}

TEST(ParseRate, ErrorsSayWhatIsWrong) {
  for (const char* bad : {"", "fast", "0", "-3/s", "10/day", "10/", "/s", "1e999"}) {
    auto r = parse_rate(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("not a rate"), std::string::npos) << r.error();
  }
}

TEST(FormatRate, PicksAReadableUnit) {
  EXPECT_EQ(format_rate(50), "50/s");
  EXPECT_EQ(format_rate(0.5), "30/min");
  EXPECT_EQ(format_rate(1.0 / 3600), "1/h");
}

TEST(TokenBucket, UnlimitedAlwaysGives) {
  TokenBucket b;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.try_take(0));
  EXPECT_FALSE(b.rate());
}

// Taking as fast as a 50 ms loop allows for 10 s gives the rate, within the burst.
TEST(TokenBucket, TenSecondsAtFiftyPerSecondGiveFiveHundred) {
  TokenBucket b;
  b.set_rate(50, 0);
  int taken = 0;
  for (int64_t t = 0; t < 10'000; t += 50)
    while (b.try_take(t)) ++taken;
  EXPECT_GE(taken, 495);
  EXPECT_LE(taken, 505);
}

// A caller waking every 51 ms at 11/s: with room for only one token the bucket would waste
// the time it sat full and deliver ~9.8/s; it must deliver the rate.
TEST(TokenBucket, ElevenPerSecondWithA51msLoopIsElevenPerSecond) {
  TokenBucket b;
  b.set_rate(11, 0);
  int taken = 0;
  for (int64_t t = 0; t < 10'000; t += 51)
    while (b.try_take(t)) ++taken;
  EXPECT_GE(taken, 107);
  EXPECT_LE(taken, 113);
}

TEST(TokenBucket, SlowRatesWaitForTheNextToken) {
  TokenBucket b;
  b.set_rate(0.5, 1000);  // one every 2 s
  EXPECT_TRUE(b.try_take(1000));
  EXPECT_FALSE(b.try_take(1500));
  EXPECT_EQ(b.next_token_at_ms(1500), 3000);
  EXPECT_FALSE(b.try_take(2999));
  EXPECT_TRUE(b.try_take(3000));
}

TEST(TokenBucket, LoweringTheRateCutsTheBurstAtOnce) {
  TokenBucket b;
  b.set_rate(1000, 0);
  int before = 0;
  while (b.try_take(1000)) ++before;
  EXPECT_EQ(before, 101) << "a tenth of a second's worth plus one";
  b.set_rate(1000, 2000);  // refilled to 100 again
  b.set_rate(1, 2000);     // the burst shrinks to one token
  int after = 0;
  while (b.try_take(2000)) ++after;
  EXPECT_EQ(after, 1);
  b.set_rate(std::nullopt, 2000);
  EXPECT_TRUE(b.try_take(2000));
}

}  // namespace
}  // namespace ringpost::queue
