#include "queue/duration.h"

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

using std::chrono::milliseconds;

int64_t ms(std::string_view s) {
  auto r = parse_duration(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << (r ? "" : r.error());
  return r ? r->count() : -1;
}

std::string error_of(std::string_view s) {
  auto r = parse_duration(s);
  EXPECT_FALSE(r.has_value()) << s << " parsed as " << (r ? r->count() : 0) << "ms";
  return r ? "" : r.error();
}

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(ms("250ms"), 250);
  EXPECT_EQ(ms("30s"), 30'000);
  EXPECT_EQ(ms("5m"), 300'000);
  EXPECT_EQ(ms("2h"), 7'200'000);
  EXPECT_EQ(ms("5d"), 432'000'000);
  EXPECT_EQ(ms("0s"), 0);
  EXPECT_EQ(ms("007s"), 7'000);
}

TEST(ParseDuration, BareIntegerIsSeconds) {
  EXPECT_EQ(ms("90"), 90'000);
  EXPECT_EQ(ms("0"), 0);
}

TEST(ParseDuration, Composites) {
  EXPECT_EQ(ms("1h30m"), 5'400'000);
  EXPECT_EQ(ms("1d2h3m4s5ms"), 86'400'000 + 7'200'000 + 180'000 + 4'000 + 5);
  EXPECT_EQ(ms("2m500ms"), 120'500);
  EXPECT_EQ(ms("1h0m"), 3'600'000);
  EXPECT_EQ(ms("90m"), 5'400'000);  // no carrying rules: 90m is fine
}

TEST(ParseDuration, ErrorsSayWhatWasWrong) {
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("5x").find("unknown unit \"x\""), std::string::npos);
  EXPECT_NE(error_of("5min").find("unknown unit \"min\""), std::string::npos);
  EXPECT_NE(error_of("5S").find("unknown unit \"S\""), std::string::npos);
  EXPECT_NE(error_of("h").find("missing number"), std::string::npos);
  EXPECT_NE(error_of("1hm").find("unknown unit \"hm\""), std::string::npos);
  EXPECT_NE(error_of("1h30").find("missing unit after \"30\""), std::string::npos);
  EXPECT_NE(error_of("-5s").find("negative"), std::string::npos);
  EXPECT_NE(error_of("1.5h").find("fractional"), std::string::npos);
  EXPECT_NE(error_of("5m30m").find("repeated or out of order"), std::string::npos);
  EXPECT_NE(error_of("30s1m").find("repeated or out of order"), std::string::npos);
  EXPECT_NE(error_of(" 5s").find("unexpected character ' ' at position 0"), std::string::npos);
  EXPECT_NE(error_of("5s ").find("unexpected character ' ' at position 2"), std::string::npos);
  EXPECT_NE(error_of("1h 30m").find("position 2"), std::string::npos);
  EXPECT_NE(error_of("+5s").find("unexpected character '+'"), std::string::npos);
  // The input is quoted in the message so a config error points at the value.
  EXPECT_NE(error_of("5x").find("\"5x\""), std::string::npos);
}

TEST(ParseDuration, OverflowIsAnErrorNotAWrap) {
  EXPECT_NE(error_of("99999999999999999999s").find("too large"), std::string::npos);
  EXPECT_NE(error_of("9223372036854775807").find("too large"), std::string::npos);  // *1000 overflows
  EXPECT_NE(error_of("106751991168d").find("too large"), std::string::npos);
  EXPECT_NE(error_of("106751991167d9223372036854775807ms").find("too large"), std::string::npos);
  EXPECT_EQ(ms("106751991167d"), int64_t{106751991167} * 86'400'000);
  EXPECT_EQ(ms("9223372036854775807ms"), INT64_MAX);
}

}  // namespace
}  // namespace ringpost::queue
