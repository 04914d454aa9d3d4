// Replays every golden transcript in tests/data/smtp through ClientSession, with each server
// chunk fed whole, split at every byte boundary, and byte by byte.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/smtp/transcript.h"

namespace ringpost::smtp::testing {
namespace {

const std::vector<std::string>& transcript_names() {
  static const std::vector<std::string> names = {
      "all_rcpts_rejected_354",
      "all_rcpts_rejected_no_pipelining",
      "all_rcpts_rejected_pipelining",
      "awaiting_phases",
      "bad_addresses",
      "bdat_all_rcpts_rejected",
      "bdat_all_rcpts_rejected_no_pipelining",
      "bdat_disabled",
      "bdat_no_pipelining",
      "bdat_pipelining",
      "closed_mid_data",
      "data_rejected",
      "dot_stuffing_on_wire",
      "dsn_not_offered",
      "dsn_offered",
      "ehlo_4xx",
      "ehlo_pipelining_happy_path",
      "eight_bit_without_8bitmime",
      "final_reply_4xx",
      "final_reply_5xx",
      "greeting_554",
      "helo_fallback",
      "helo_rejected",
      "lf_only_server",
      "long_line",
      "mail_4xx_no_pipelining",
      "mail_4xx_pipelining",
      "mail_parameters",
      "mail_rejected_pipelining",
      "mixed_rcpt_replies",
      "no_pipelining",
      "protocol_error_mid_transaction",
      "quit_during_transaction",
      "reply_421_after_data",
      "reply_421_mid_transaction",
      "size_refused_locally",
      "smtputf8_missing",
      "starttls_handshake_failed",
      "starttls_happy_path",
      "starttls_injection",
      "starttls_injection_later_chunk",
      "starttls_not_offered_opportunistic",
      "starttls_not_offered_required",
      "starttls_refused_opportunistic",
      "starttls_refused_required",
      "timeout_waiting_for_rcpt",
      "two_transactions",
      "unexpected_reply_idle",
      "unsolicited_421_idle",
  };
  return names;
}

std::string path_of(const std::string& name) { return std::string(RINGPOST_SMTP_TRANSCRIPT_DIR) + "/" + name + ".txt"; }

class Transcripts : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcripts, ReplaysInEveryFeedMode) {
  auto t = load_transcript(path_of(GetParam()));
  ASSERT_TRUE(t.has_value()) << t.error();
  ASSERT_FALSE(t->steps.empty());
  const std::string err = run_transcript_all_modes(*t);
  EXPECT_TRUE(err.empty()) << GetParam() << ".txt " << err;
}

INSTANTIATE_TEST_SUITE_P(Smtp, Transcripts, ::testing::ValuesIn(transcript_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// A transcript added to the directory but not to the list above would silently never run.
TEST(TranscriptFiles, AllListed) {
  std::vector<std::string> on_disk;
  for (const auto& e : std::filesystem::directory_iterator(RINGPOST_SMTP_TRANSCRIPT_DIR)) {
    if (e.path().extension() == ".txt") on_disk.push_back(e.path().stem().string());
  }
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(on_disk, transcript_names());
}

// The runner itself must be able to fail, or green transcripts prove nothing.
TEST(TranscriptRunner, DetectsWrongClientLine) {
  auto t = parse_transcript("S: 220 hi\nC: HELO mta.example.test\n");
  ASSERT_TRUE(t.has_value()) << t.error();
  EXPECT_NE(run_transcript(*t, {}), "");
}

TEST(TranscriptRunner, DetectsUnmatchedClientOutput) {
  auto t = parse_transcript("S: 220 hi\n");
  ASSERT_TRUE(t.has_value()) << t.error();
  EXPECT_NE(run_transcript(*t, {}).find("unmatched client output"), std::string::npos);
}

TEST(TranscriptRunner, DetectsWrongOutcomeAndUncheckedResults) {
  const std::string base =
      "S: 220 hi\nC: EHLO mta.example.test\nS: 250 hi\n@submit 1 <a@x.test> <b@y.test>\n"
      "C: MAIL FROM:<a@x.test>\nS: 550 no\nC: RSET\n";
  auto wrong = parse_transcript(base + "R: 1 <b@y.test> delivered 550\n");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(run_transcript(*wrong, {}), "");
  auto unchecked = parse_transcript(base);
  ASSERT_TRUE(unchecked.has_value());
  EXPECT_NE(run_transcript(*unchecked, {}).find("unchecked result"), std::string::npos);
  auto right = parse_transcript(base + "R: 1 <b@y.test> bounced 550 - | no\n");
  ASSERT_TRUE(right.has_value());
  EXPECT_EQ(run_transcript_all_modes(*right), "");
}

TEST(TranscriptRunner, RejectsUnknownDirective) {
  EXPECT_FALSE(parse_transcript("X: what\n").has_value());
}

TEST(TranscriptRunner, ConsecutiveServerLinesFormOneChunk) {
  auto t = parse_transcript("S: 250-a\nS: 250 b\n# comment\nS+ 2\nC: x\nS: 220 c\n");
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->steps.size(), 3u);
  EXPECT_EQ(t->steps[0].text, "250-a\r\n250 b\r\n2");
  EXPECT_EQ(t->steps[2].text, "220 c\r\n");
  EXPECT_EQ(t->longest_chunk, 15u);
}

TEST(TranscriptRunner, ConfigMustComeFirstAndBeValid) {
  EXPECT_FALSE(parse_transcript("S: 220 hi\n@config tls=required\n").has_value());
  EXPECT_FALSE(parse_transcript("@config tls=sometimes\n").has_value());
  EXPECT_FALSE(parse_transcript("@config colour=blue\n").has_value());
  auto t = parse_transcript("# comment\n@config tls=required chunking=no\n@config peer=x\nS: 220 hi\n");
  ASSERT_TRUE(t.has_value()) << t.error();
  EXPECT_EQ(t->config, (std::vector<std::string>{"tls=required", "chunking=no", "peer=x"}));
}

TEST(TranscriptRunner, RawClientBytesAndRepeatedBody) {
  auto t = parse_transcript("B* 3 ab\\r\nC+ x\\r\\n\n");
  ASSERT_TRUE(t.has_value()) << t.error();
  ASSERT_EQ(t->steps.size(), 2u);
  EXPECT_EQ(t->steps[0].text, "ab\rab\rab\r");
  EXPECT_EQ(t->steps[1].text, "x\r\n");
}

TEST(TranscriptRunner, DetectsWrongFailureReply) {
  const std::string base = "S: 554 5.3.2 go away\nC: QUIT\n";
  for (const char* wrong : {"F: 451\n", "F: 554 5.0.0\n", "F: 554 5.3.2 | stay\n"}) {
    auto t = parse_transcript(base + wrong);
    ASSERT_TRUE(t.has_value());
    EXPECT_NE(run_transcript(*t, {}), "") << wrong;
  }
  auto right = parse_transcript(base + "F: 554 5.3.2 | go away\n");
  ASSERT_TRUE(right.has_value());
  EXPECT_EQ(run_transcript_all_modes(*right), "");
}

TEST(TranscriptRunner, TlsEventsNeedASessionThatWantsTls) {
  auto t = parse_transcript("S: 220 hi\nC: EHLO mta.example.test\n@tls_ready\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(run_transcript(*t, {}).find("does not want TLS"), std::string::npos);
}

}  // namespace
}  // namespace ringpost::smtp::testing
