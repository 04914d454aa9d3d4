// ReplyParser: every case is checked fed whole, split in two at every byte boundary, and fed
// byte by byte; all must yield the same replies and the same final status.
#include "smtp/reply_parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ringpost::smtp {
namespace {

struct Parsed {
  std::vector<Reply> replies;
  bool error = false;
  std::string message;
  bool pending = false;        // input ended inside a reply
  std::string contract_break;  // a violated consumed-count promise, if any
};

// Drives the parser the way ClientSession does: re-feed the rest after each complete reply.
Parsed feed(const std::vector<std::string_view>& chunks) {
  Parsed p;
  ReplyParser parser;
  Reply reply;
  for (std::string_view in : chunks) {
    while (!in.empty()) {
      const std::size_t before = in.size();
      auto r = parser.parse(in, reply);
      if (r.status == ReplyParser::Status::error) {
        p.error = true;
        p.message = r.error;
        return p;
      }
      if (r.consumed > before) p.contract_break = "consumed more than given";
      if (r.status == ReplyParser::Status::need_more && r.consumed != before) p.contract_break = "need_more without consuming all";
      if (r.status == ReplyParser::Status::complete && r.consumed == 0) p.contract_break = "complete without consuming";
      in.remove_prefix(r.consumed);
      if (r.status == ReplyParser::Status::complete) p.replies.push_back(reply);
      else break;
    }
  }
  p.pending = !parser.idle();
  return p;
}

std::string describe(const Parsed& p) {
  std::string s = p.error ? "error(" + p.message + ") " : "";
  for (const Reply& r : p.replies) s += "[" + std::to_string(r.code) + "|" + r.enhanced + "|" + r.text + "]";
  return s;
}

// Parses `input` whole, then at every split point, then byte by byte; every run must agree
// with the whole run. Returns the whole run for the caller's own expectations.
Parsed parse_all_ways(const std::string& input) {
  const Parsed whole = feed({input});
  EXPECT_EQ(whole.contract_break, "");
  for (std::size_t at = 1; at < input.size(); ++at) {
    std::string_view in = input;
    const Parsed split = feed({in.substr(0, at), in.substr(at)});
    EXPECT_EQ(describe(split), describe(whole)) << "split at " << at;
    EXPECT_EQ(split.pending, whole.pending) << "split at " << at;
    EXPECT_EQ(split.contract_break, "") << "split at " << at;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(std::string_view(input).substr(i, 1));
  const Parsed one = feed(bytes);
  EXPECT_EQ(describe(one), describe(whole)) << "byte by byte";
  EXPECT_EQ(one.contract_break, "") << "byte by byte";
  return whole;
}

TEST(ReplyParser, SingleLine) {
  const Parsed p = parse_all_ways("250 OK\r\n");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", "OK"}));
  EXPECT_FALSE(p.pending);
}

TEST(ReplyParser, MultiLine) {
  const Parsed p = parse_all_ways("250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", "mx.test Hello\nPIPELINING\nSIZE 1000"}));
}

TEST(ReplyParser, EnhancedCode) {
  const Parsed p = parse_all_ways("550 5.1.1 <bob@dest.test>: User unknown\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{550, "5.1.1", "<bob@dest.test>: User unknown"}));
}

TEST(ReplyParser, MultiLineWithEnhancedCodeStrippedFromEveryLine) {
  const Parsed p = parse_all_ways("451-4.7.1 Greylisted\r\n451-4.7.1 see https://x.test/\r\n451 4.7.1 try later\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{451, "4.7.1", "Greylisted\nsee https://x.test/\ntry later"}));
}

TEST(ReplyParser, EnhancedCodeWithoutText) {
  const Parsed p = parse_all_ways("250 2.0.0\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{250, "2.0.0", ""}));
}

TEST(ReplyParser, EnhancedCodeWithThreeDigitParts) {
  const Parsed p = parse_all_ways("550 5.7.134 No\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{550, "5.7.134", "No"}));
}

TEST(ReplyParser, NotAnEnhancedCodeStaysText) {
  // Class mismatch (RFC 2034: must equal the reply's first digit), a 3xx (no class 3 exists),
  // too many digits, and no SP after the code.
  const Parsed p = parse_all_ways(
      "250 5.1.1 odd\r\n"
      "354 3.0.0 go ahead\r\n"
      "550 5.1234.1 no\r\n"
      "250 2.0.0ok\r\n"
      "250 2.0 short\r\n");
  ASSERT_FALSE(p.error) << p.message;
  ASSERT_EQ(p.replies.size(), 5u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", "5.1.1 odd"}));
  EXPECT_EQ(p.replies[1], (Reply{354, "", "3.0.0 go ahead"}));
  EXPECT_EQ(p.replies[2], (Reply{550, "", "5.1234.1 no"}));
  EXPECT_EQ(p.replies[3], (Reply{250, "", "2.0.0ok"}));
  EXPECT_EQ(p.replies[4], (Reply{250, "", "2.0 short"}));
}

TEST(ReplyParser, BareCode) {
  const Parsed p = parse_all_ways("250\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", ""}));
}

TEST(ReplyParser, BareCodeEndsMultiLine) {
  const Parsed p = parse_all_ways("250-first\r\n250-\r\n250\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", "first\n\n"}));
}

TEST(ReplyParser, LfOnlyAndMixedLineEnds) {
  const Parsed p = parse_all_ways("250-a\n250-b\r\n250 c\n220 next\n");
  ASSERT_EQ(p.replies.size(), 2u);
  EXPECT_EQ(p.replies[0], (Reply{250, "", "a\nb\nc"}));
  EXPECT_EQ(p.replies[1], (Reply{220, "", "next"}));
}

TEST(ReplyParser, CrInsideTextIsKept) {
  const Parsed p = parse_all_ways("250 a\rb\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].text, "a\rb");
}

TEST(ReplyParser, SeveralRepliesInOneBuffer) {
  const Parsed p = parse_all_ways("250 2.1.0 ok\r\n250-2.1.5 ok\r\n250 2.1.5 really\r\n550 5.1.1 no\r\n354 go\r\n");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 4u);
  EXPECT_EQ(p.replies[0], (Reply{250, "2.1.0", "ok"}));
  EXPECT_EQ(p.replies[1], (Reply{250, "2.1.5", "ok\nreally"}));
  EXPECT_EQ(p.replies[2], (Reply{550, "5.1.1", "no"}));
  EXPECT_EQ(p.replies[3], (Reply{354, "", "go"}));
}

TEST(ReplyParser, ConsumedStopsAtTheEndOfEachReply) {
  ReplyParser parser;
  Reply r;
  const std::string_view in = "250 a\r\n251-b\r\n251 c\r\n25";
  auto res = parser.parse(in, r);
  EXPECT_EQ(res.status, ReplyParser::Status::complete);
  EXPECT_EQ(res.consumed, 7u);
  res = parser.parse(in.substr(7), r);
  EXPECT_EQ(res.status, ReplyParser::Status::complete);
  EXPECT_EQ(res.consumed, 14u);
  EXPECT_EQ(r, (Reply{251, "", "b\nc"}));
  res = parser.parse(in.substr(21), r);
  EXPECT_EQ(res.status, ReplyParser::Status::need_more);
  EXPECT_EQ(res.consumed, 2u);
  EXPECT_FALSE(parser.idle());
  res = parser.parse("0 d\r\n", r);
  EXPECT_EQ(res.status, ReplyParser::Status::complete);
  EXPECT_EQ(res.consumed, 5u);
  EXPECT_EQ(r, (Reply{250, "", "d"}));
  EXPECT_TRUE(parser.idle());
}

TEST(ReplyParser, IncompleteReplyIsPending) {
  const Parsed p = parse_all_ways("250-first\r\n250 sec");
  EXPECT_FALSE(p.error);
  EXPECT_TRUE(p.replies.empty());
  EXPECT_TRUE(p.pending);
}

TEST(ReplyParser, LineOfExactlyMaxLengthIsAccepted) {
  const std::string text(ReplyParser::kMaxLine - 4, 'x');
  const Parsed p = parse_all_ways("250 " + text + "\r\n");
  ASSERT_FALSE(p.error) << p.message;
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].text, text);
}

struct Malformed {
  const char* name;
  std::string input;
  std::size_t good_replies;  // replies before the bad one
  const char* message_part;
};

class ReplyParserMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(ReplyParserMalformed, IsAnError) {
  const Malformed& m = GetParam();
  const Parsed p = parse_all_ways(m.input);
  EXPECT_TRUE(p.error);
  EXPECT_EQ(p.replies.size(), m.good_replies);
  EXPECT_NE(p.message.find(m.message_part), std::string::npos) << p.message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReplyParserMalformed,
    ::testing::Values(
        Malformed{"NonDigitCode", "2x0 ok\r\n", 0, "three-digit"},
        Malformed{"HttpResponse", "250 ok\r\nHTTP/1.1 400 Bad Request\r\n", 1, "three-digit"},
        Malformed{"ShortCode", "25\r\n", 0, "three-digit"},
        Malformed{"EmptyLine", "\r\n", 0, "three-digit"},
        Malformed{"CodeBelowRange", "199 hi\r\n", 0, "outside 200..599"},
        Malformed{"CodeAboveRange", "600 hi\r\n", 0, "outside 200..599"},
        Malformed{"CodeZero", "000\r\n", 0, "outside 200..599"},
        Malformed{"BadSeparator", "250Xok\r\n", 0, "not followed by SP"},
        Malformed{"MismatchedCodes", "250-a\r\n251 b\r\n", 0, "changed from 250 to 251"},
        Malformed{"MismatchedAfterGoodReply", "220 hi\r\n250-a\r\n550 b\r\n", 1, "changed from 250 to 550"},
        Malformed{"LineTooLong", "250 " + std::string(ReplyParser::kMaxLine, 'x') + "\r\n", 0, "longer than 4096"},
        Malformed{"LineTooLongNoEnd", "250 " + std::string(ReplyParser::kMaxLine + 10, 'x'), 0, "longer than 4096"},
        Malformed{"ReplyTooLong", [] {
                    std::string s;
                    for (int i = 0; i < 40; ++i) s += "250-" + std::string(2000, 'y') + "\r\n";
                    return s + "250 end\r\n";
                  }(),
                  0, "multi-line reply longer"}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return std::string(info.param.name); });

TEST(ReplyParser, ErrorIsStickyUntilReset) {
  ReplyParser parser;
  Reply r;
  auto res = parser.parse("xyz\r\n", r);
  ASSERT_EQ(res.status, ReplyParser::Status::error);
  res = parser.parse("250 ok\r\n", r);
  EXPECT_EQ(res.status, ReplyParser::Status::error);
  EXPECT_EQ(res.consumed, 0u);
  EXPECT_FALSE(res.error.empty());
  parser.reset();
  res = parser.parse("250 ok\r\n", r);
  EXPECT_EQ(res.status, ReplyParser::Status::complete);
  EXPECT_EQ(r, (Reply{250, "", "ok"}));
}

TEST(ReplyParser, ErrorMessageEscapesControlBytes) {
  ReplyParser parser;
  Reply r;
  auto res = parser.parse(std::string_view("\x01\x02junk\r\n"), r);
  ASSERT_EQ(res.status, ReplyParser::Status::error);
  EXPECT_NE(res.error.find("\\x01\\x02junk"), std::string::npos) << res.error;
}

}  // namespace
}  // namespace ringpost::smtp
