// scan_body(): size, 8-bit and line-length answers, checked against the bytes the dot-stuffer
// and the BDAT encoder actually write (they must agree on what a line is).
#include "smtp/body_scan.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "smtp/dot_stuffer.h"

namespace ringpost::smtp {
namespace {

std::string normalized(std::string_view s) {
  std::string out;
  crlf_normalize_append(s, out);
  return out;
}

TEST(BodyScan, EmptyMessage) {
  const BodyScan s = scan_body("");
  EXPECT_EQ(s.wire_size, 0u);
  EXPECT_FALSE(s.eight_bit);
  EXPECT_EQ(s.long_line, 0u);
}

TEST(BodyScan, SizeCountsRepairedLineEnds) {
  EXPECT_EQ(scan_body("a\r\n").wire_size, 3u);
  EXPECT_EQ(scan_body("a\n").wire_size, 3u);
  EXPECT_EQ(scan_body("a\r").wire_size, 3u);
  EXPECT_EQ(scan_body("a").wire_size, 3u);         // final CRLF added
  EXPECT_EQ(scan_body("a\n\rb").wire_size, 8u);    // LF, CR: two line ends
  EXPECT_EQ(scan_body(".x\r\n").wire_size, 4u);    // stuffing is not counted (RFC 1870 §6)
}

TEST(BodyScan, EightBitAnywhere) {
  for (std::size_t len : {1u, 7u, 8u, 9u, 16u, 17u, 100u}) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\x80';
      EXPECT_TRUE(scan_body(s).eight_bit) << len << " " << at;
    }
    EXPECT_FALSE(scan_body(std::string(len, '\x7f')).eight_bit);
  }
}

TEST(BodyScan, LongLineLimitIs998) {
  EXPECT_EQ(scan_body(std::string(998, 'x') + "\r\n").long_line, 0u);
  const BodyScan s = scan_body("a\r\nb\n" + std::string(999, 'x') + "\r\n" + std::string(2000, 'y'));
  EXPECT_EQ(s.long_line, 3u);  // the first one, numbered from 1
  EXPECT_EQ(s.long_line_octets, 999u);
  // The last line without a line end counts too; so does one ended by a bare CR.
  EXPECT_EQ(scan_body("a\r" + std::string(999, 'x')).long_line, 2u);
  // A CRLF split as "\r" "\n" around nothing is one line end, not two.
  EXPECT_EQ(scan_body(std::string(998, 'x') + "\r\n" + std::string(998, 'x')).long_line, 0u);
}

TEST(BodyScan, AgreesWithTheEncodersOnGeneratedInput) {
  std::mt19937 rng(777);
  const char alphabet[] = {'.', 'a', '\r', '\n', ' ', '\xc3'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    const int len = static_cast<int>(rng() % 40);
    for (int i = 0; i < len; ++i) in += alphabet[rng() % sizeof(alphabet)];
    const BodyScan s = scan_body(in);
    const std::string wire = normalized(in);
    ASSERT_EQ(s.wire_size, wire.size()) << testing::PrintToString(in);
    ASSERT_EQ(s.eight_bit, in.find('\xc3') != std::string::npos);
    // BDAT content is the DATA content without the stuffing and the terminator.
    std::string stuffed = dot_stuff(in);
    ASSERT_EQ(stuffed.substr(stuffed.size() - 3), ".\r\n");
    stuffed.resize(stuffed.size() - 3);
    std::string unstuffed;
    for (std::size_t pos = 0; pos < stuffed.size();) {
      const std::size_t eol = stuffed.find("\r\n", pos);
      const std::size_t skip = stuffed[pos] == '.' ? 1 : 0;
      unstuffed += stuffed.substr(pos + skip, eol + 2 - pos - skip);
      pos = eol + 2;
    }
    ASSERT_EQ(unstuffed, wire) << testing::PrintToString(in);
  }
}

TEST(CrlfNormalize, NoStuffingNoTerminator) {
  EXPECT_EQ(normalized(".a\n..b\r.\r\n"), ".a\r\n..b\r\n.\r\n");
  EXPECT_EQ(normalized(""), "");
  EXPECT_EQ(normalized("x"), "x\r\n");
  std::string out = "BDAT 3 LAST\r\n";
  crlf_normalize_append("x", out);
  EXPECT_EQ(out, "BDAT 3 LAST\r\nx\r\n");
}

}  // namespace
}  // namespace ringpost::smtp

namespace ringpost::smtp {
namespace {

// RFC 6532: only 8-bit octets before the first empty line make a UTF-8 header section.
TEST(BodyScan, HeaderEightBitIsJudgedUpToTheFirstEmptyLine) {
  EXPECT_TRUE(scan_body("Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nbody\r\n").header_eight_bit);
  EXPECT_TRUE(scan_body("Subject: \xc3\xbc\n\nbody").header_eight_bit);
  EXPECT_FALSE(scan_body("Subject: x\r\n\r\nbody \xc3\xbc\r\n").header_eight_bit);
  EXPECT_TRUE(scan_body("Subject: x\r\n\r\nbody \xc3\xbc\r\n").eight_bit);
  EXPECT_FALSE(scan_body("\r\n\xc3\xbc body without headers\r\n").header_eight_bit);
  EXPECT_FALSE(scan_body("no empty line \xc3\xbc\r\nat all\r\n").header_eight_bit);
  EXPECT_FALSE(scan_body("Subject: x\r\n\r\nbody\r\n").header_eight_bit);
}

}  // namespace
}  // namespace ringpost::smtp
