#include "engine/api/rfc3339.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

TEST(Rfc3339, UtcTimes) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-11-26T08:00:00Z"), int64_t{1795680000} * 1000);
  EXPECT_EQ(parse_rfc3339("2000-02-29T23:59:59z"), int64_t{951868799} * 1000);
  EXPECT_EQ(parse_rfc3339("2026-11-26t08:00:00Z"), int64_t{1795680000} * 1000);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z"), -1000);
}

TEST(Rfc3339, FractionsAreTruncatedToMilliseconds) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.25Z"), 1250);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.123999Z"), 1123);
}

TEST(Rfc3339, OffsetsConvertToUtc) {
  EXPECT_EQ(parse_rfc3339("2026-11-26T09:00:00+01:00"), parse_rfc3339("2026-11-26T08:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-26T02:30:00-05:30"), parse_rfc3339("2026-11-26T08:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-26T08:00:00-00:00"), parse_rfc3339("2026-11-26T08:00:00Z"));
}

TEST(Rfc3339, LeapSecondIsTheNextSecond) {
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2017-01-01T00:00:00Z"));
}

TEST(Rfc3339, RefusesMalformedOrOutOfRange) {
  for (const char* s : {"", "2026-11-26", "2026-11-26T08:00:00", "2026-11-26 08:00:00Z", "2026-11-26T08:00Z",
                        "2026-11-26T8:00:00Z", "26-11-26T08:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                        "2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T08:60:00Z",
                        "2026-11-26T08:00:61Z", "2026-11-26T08:00:00.Z", "2026-11-26T08:00:00+0100",
                        "2026-11-26T08:00:00+24:00", "2026-11-26T08:00:00Z ", "2026-11-26T08:00:00UTC",
                        "1795680000"}) {
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << s;
  }
  EXPECT_EQ(parse_rfc3339("2026-02-30T00:00:00Z").error(), "date is not a calendar date");
}

}  // namespace
}  // namespace ringpost::api
