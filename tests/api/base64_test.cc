#include "engine/api/base64.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/api/mail_test_util.h"

namespace ringpost::api {
namespace {

std::string encode(std::string_view s) {
  std::string out;
  append_base64(out, s);
  return out;
}

TEST(Base64, Rfc4648TestVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) EXPECT_EQ(base64_decode(encode(s)), s);
}

TEST(Base64, LinesAreAtMost76ColumnsAndDecodeBack) {
  std::mt19937 rng(11);
  for (const std::size_t n : {0u, 1u, 56u, 57u, 58u, 114u, 1000u, 65537u}) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string lines = base64_lines(bytes);
    EXPECT_EQ(lines.size(), base64_lines_size(n)) << n;
    const auto split = testing::split_crlf_lines(lines);
    for (std::size_t i = 0; i < split.size(); ++i) {
      if (i + 1 < split.size()) {
        EXPECT_EQ(split[i].size(), 76u);  // full lines; only the last may be short
      }
      EXPECT_LE(split[i].size(), 76u);
    }
    EXPECT_FALSE(lines.ends_with("\r\n"));
    std::string joined;
    for (const std::string& l : split) joined += l;
    EXPECT_EQ(testing::base64_decode(joined), bytes) << n;  // the independent test decoder
    EXPECT_EQ(base64_decode(lines), bytes) << n;           // and ours, skipping the CRLFs
  }
}

TEST(Base64Decode, SkipsWhitespaceAnywhere) {
  EXPECT_EQ(base64_decode(" Zm9v\r\nYmFy \t"), "foobar");
  EXPECT_EQ(base64_decode("Zm 8="), "fo");
}

TEST(Base64Decode, RefusesWhatIsNotCanonicalBase64) {
  struct Bad {
    const char* in;
    const char* reason_part;
  };
  for (const Bad& b : {Bad{"Zm9", "multiple of 4"}, Bad{"Zm9v!", "offset 4"}, Bad{"Zm9-", "URL-safe"},
                       Bad{"Zm9_", "URL-safe"}, Bad{"Z===", "'='"}, Bad{"=Zm9", "'='"}, Bad{"Zg==Zg==", "after '='"},
                       Bad{"Zm=v", "after '='"}, Bad{"Zh==", "non-zero bits"}, Bad{"Zm9=", "non-zero bits"},
                       Bad{"Zg=", "multiple of 4"}, Bad{"\xc3\xa9\xc3\xa9", "not a base64 character"}}) {
    const auto r = base64_decode(b.in);
    ASSERT_FALSE(r.has_value()) << b.in;
    EXPECT_NE(r.error().find(b.reason_part), std::string::npos) << b.in << ": " << r.error();
  }
}

TEST(Base64Decode, RandomRoundTrips) {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    std::string bytes(rng() % 200, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    ASSERT_EQ(base64_decode(encode(bytes)), bytes);
  }
}

}  // namespace
}  // namespace ringpost::api
