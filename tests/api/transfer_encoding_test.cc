#include "engine/api/transfer_encoding.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/api/base64.h"
#include "engine/api/field_rules.h"
#include "engine/api/line_endings.h"
#include "tests/api/mail_test_util.h"

namespace ringpost::api {
namespace {

using testing::qp_decode;
using testing::split_crlf_lines;

// Invariants of any QP output, RFC 2045 §6.7.
void expect_well_formed_qp(const std::string& qp) {
  EXPECT_FALSE(testing::has_bare_cr_or_lf(qp));
  for (const std::string& line : split_crlf_lines(qp)) {
    EXPECT_LE(line.size(), 76u) << line;
    if (!line.empty()) {
      EXPECT_FALSE(line.back() == ' ' || line.back() == '\t') << "trailing whitespace: " << line;
    }
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE((u >= 33 && u <= 126) || u == ' ' || u == '\t') << "octet " << int(u);
    }
  }
}

TEST(SevenBit, AcceptsShortAsciiCrlfText) {
  EXPECT_TRUE(is_7bit(""));
  EXPECT_TRUE(is_7bit("Hello\r\nworld\r\n"));
  EXPECT_TRUE(is_7bit(std::string(998, 'x') + "\r\n" + std::string(998, 'y')));
}

TEST(SevenBit, RefusesWhatNeedsEncoding) {
  EXPECT_FALSE(is_7bit("caf\xc3\xa9"));
  EXPECT_FALSE(is_7bit(std::string(999, 'x')));
  EXPECT_FALSE(is_7bit("bare\nlf"));
  EXPECT_FALSE(is_7bit("bare\rcr"));
  EXPECT_FALSE(is_7bit(std::string("nul\0", 4)));
}

TEST(QuotedPrintable, EncodesEqualsAndNonAscii) {
  EXPECT_EQ(quoted_printable_encode("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable_encode("caf\xc3\xa9"), "caf=C3=A9");
  EXPECT_EQ(quoted_printable_encode("plain text\r\nline two"), "plain text\r\nline two");
}

TEST(QuotedPrintable, EncodesWhitespaceOnlyAtLineEnds) {
  EXPECT_EQ(quoted_printable_encode("a b \r\nc\t"), "a b=20\r\nc=09");
}

TEST(QuotedPrintable, EncodesLoneLineBreakOctets) {
  EXPECT_EQ(quoted_printable_encode("a\nb\rc"), "a=0Ab=0Dc");
}

TEST(QuotedPrintable, LongLineGetsSoftBreaksAndDecodesBack) {
  std::string line;
  for (int i = 0; line.size() < 2000; ++i) line += (i % 10 == 9) ? ' ' : static_cast<char>('a' + i % 26);
  line.resize(2000);
  const std::string qp = quoted_printable_encode(line);
  expect_well_formed_qp(qp);
  EXPECT_GE(split_crlf_lines(qp).size(), 2000u / 76);
  EXPECT_EQ(qp_decode(qp), line);
}

TEST(QuotedPrintable, EscapesAreNeverSplitAcrossSoftBreaks) {
  // Every octet needs three columns, so each line ends exactly where a split would be tempting.
  const std::string text(500, '\xff');
  const std::string qp = quoted_printable_encode(text);
  expect_well_formed_qp(qp);
  EXPECT_EQ(qp_decode(qp), text);
}

TEST(QuotedPrintable, RandomOctetsRoundTrip) {
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      const unsigned pick = rng() % 10;
      if (pick == 0) {
        text += "\r\n";
      } else if (pick == 1) {
        text += ' ';
      } else {
        text += static_cast<char>(rng() % 256);
      }
    }
    const std::string qp = quoted_printable_encode(text);
    expect_well_formed_qp(qp);
    ASSERT_EQ(qp_decode(qp), text);
  }
}


TEST(EncodeTextBody, SevenBitTextIsUnchanged) {
  const EncodedText e = encode_text_body("plain\r\ntext");
  EXPECT_EQ(e.transfer_encoding, "7bit");
  EXPECT_EQ(e.bytes, "plain\r\ntext");
}

TEST(EncodeTextBody, MostlyAsciiIsQuotedPrintable) {
  const std::string text = "The price is 5\xe2\x82\xac, see you at the caf\xc3\xa9 tomorrow.\r\n";
  const EncodedText e = encode_text_body(text);
  EXPECT_EQ(e.transfer_encoding, "quoted-printable");
  EXPECT_EQ(qp_decode(e.bytes), text);
}

TEST(EncodeTextBody, MostlyNonAsciiIsBase64In76Columns) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1\r\n";  // Greek
  const EncodedText e = encode_text_body(text);
  EXPECT_EQ(e.transfer_encoding, "base64");
  std::string joined;
  for (const std::string& line : split_crlf_lines(e.bytes)) {
    EXPECT_LE(line.size(), 76u);
    joined += line;
  }
  EXPECT_EQ(testing::base64_decode(joined), text);
  EXPECT_LT(e.bytes.size(), quoted_printable_encode(text).size());
}

TEST(EncodeTextBody, ChoosesTheSmallerEncoding) {
  std::mt19937 rng(3);
  for (int round = 0; round < 100; ++round) {
    std::string text;
    const int ascii_share = static_cast<int>(rng() % 100);
    for (int i = 0; i < 300; ++i) text += static_cast<int>(rng() % 100) < ascii_share ? "a" : "\xc3\xa9";
    const EncodedText e = encode_text_body(text);
    const std::size_t qp = quoted_printable_encode(text).size();
    if (e.transfer_encoding == "base64") {
      EXPECT_LT(e.bytes.size(), qp);
    } else {
      ASSERT_EQ(e.transfer_encoding, "quoted-printable");
      EXPECT_EQ(e.bytes.size(), qp);
      EXPECT_LE(qp, base64_lines_size(text.size()));
    }
  }
}

// is_7bit and to_crlf scan line by line and 16 bytes at a time; these are the byte-by-byte
// definitions they replaced, compared over random text built from the bytes that matter
// (CR, LF, NUL, 8-bit, long lines) so every branch and every 16-byte position is hit.
bool reference_is_7bit(std::string_view s) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n') {
      ++i;
      line = 0;
      continue;
    }
    if (c == 0 || c >= 0x80 || c == '\r' || c == '\n') return false;
    if (++line > kMaxLineLength) return false;
  }
  return true;
}

std::string reference_to_crlf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (const std::size_t n = line_break_at(s, i)) {
      out += "\r\n";
      i += n;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

TEST(SevenBitAndCrlf, FastScansAgreeWithTheByteByByteDefinitions) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces{"a", "hello world ", "\r\n", "\n", "\r", "\r\r\n", std::string(1, '\0'),
                                        "\xc3\xa9", "\x7f", "\t", std::string(40, 'x')};
  int seven_bit = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const std::size_t n = rng() % 40;
    // Mostly clean CRLF text with a rare odd piece, so that both verdicts of is_7bit occur.
    for (std::size_t k = 0; k < n; ++k) s += pieces[rng() % 8 == 0 ? rng() % pieces.size() : rng() % 3 == 0 ? 2 : 1];
    if (round % 50 == 0) s += std::string(kMaxLineLength - 5 + rng() % 10, 'y');
    ASSERT_EQ(is_7bit(s), reference_is_7bit(s)) << ::testing::PrintToString(s);
    ASSERT_EQ(to_crlf(s), reference_to_crlf(s)) << ::testing::PrintToString(s);
    seven_bit += is_7bit(s);
  }
  EXPECT_GT(seven_bit, 300);
  EXPECT_LT(seven_bit, 2700);
}

}  // namespace
}  // namespace ringpost::api
