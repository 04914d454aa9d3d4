// The sans-IO sink session (bench/sink/sink_session.h): golden replies for each command and
// extension, fault injection, and the same input split at every byte boundary (and byte by
// byte) giving the same replies, counters and final action.
#include "bench/sink/sink_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringpost::sink {
namespace {

struct Fed {
  std::string out;
  SinkCounters counters;
  SinkSession::After after = SinkSession::After::none;
  bool operator==(const Fed& o) const {
    return out == o.out && after == o.after && counters.messages == o.counters.messages &&
           counters.messages_rejected == o.counters.messages_rejected && counters.recipients == o.counters.recipients &&
           counters.recipients_rejected == o.counters.recipients_rejected &&
           counters.message_bytes == o.counters.message_bytes && counters.replies_421 == o.counters.replies_421 &&
           counters.drops == o.counters.drops;
  }
};

// Feeds `pieces` in order (after the greeting) and returns what the session produced; the
// greeting is left out of `out` so expectations stay short.
Fed feed(const SinkConfig& cfg, const std::vector<std::string>& pieces, uint64_t seed = 7) {
  Fed r;
  SinkSession s(cfg, &r.counters, seed);
  s.greet();
  s.output().clear();
  for (const std::string& p : pieces) {
    std::size_t taken = s.on_bytes(p);
    EXPECT_EQ(taken, p.size()) << "the session takes everything it is given";
  }
  r.out = s.output();
  r.after = s.after();
  return r;
}

Fed whole(const SinkConfig& cfg, const std::string& in, uint64_t seed = 7) { return feed(cfg, {in}, seed); }

// The split-invariance check every parser test gets: each two-piece split and the byte-by-byte
// feed must equal the whole.
void expect_split_invariant(const SinkConfig& cfg, const std::string& in, uint64_t seed = 7) {
  Fed ref = whole(cfg, in, seed);
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Fed r = feed(cfg, {in.substr(0, k), in.substr(k)}, seed);
    ASSERT_EQ(r, ref) << "split at byte " << k << "\nwhole:\n" << ref.out << "\nsplit:\n" << r.out;
  }
  std::vector<std::string> bytes;
  for (char c : in) bytes.emplace_back(1, c);
  ASSERT_EQ(feed(cfg, bytes, seed), ref) << "byte by byte";
}

const char* kEhloReply =
    "250-sink.ringpost.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-CHUNKING\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";

TEST(SinkSession, GreetingAndEhloCapabilities) {
  SinkConfig cfg;
  SinkCounters c;
  SinkSession s(cfg, &c, 1);
  s.greet();
  EXPECT_EQ(s.output(), "220 sink.ringpost.test ESMTP ringpost-sink\r\n");
  EXPECT_EQ(s.take_reply_count(), 1u);
  s.output().clear();
  s.on_bytes("EHLO client.test\r\n");
  EXPECT_EQ(s.output(), kEhloReply);
  EXPECT_EQ(s.take_reply_count(), 6u);
}

TEST(SinkSession, EhloWithoutExtensionsAndHelo) {
  SinkConfig cfg;
  cfg.pipelining = cfg.chunking = cfg.eightbitmime = false;
  cfg.max_message_size = 1000;
  EXPECT_EQ(whole(cfg, "EHLO c\r\nHELO c\r\n").out,
            "250-sink.ringpost.test\r\n250-SIZE 1000\r\n250 ENHANCEDSTATUSCODES\r\n250 sink.ringpost.test\r\n");
}

const std::string kPipelined =
    "EHLO client.test\r\nMAIL FROM:<a@x.test> SIZE=40 BODY=8BITMIME\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n"
    "DATA\r\nSubject: hi\r\n\r\n..stuffed\r\n.not the end\r\n. \r\nlast\r\n.\r\nQUIT\r\n";

TEST(SinkSession, PipelinedTransactionWithData) {
  Fed r = whole(SinkConfig{}, kPipelined);
  EXPECT_EQ(r.out, std::string(kEhloReply) +
                       "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                       "250 2.0.0 Ok: queued as 1\r\n221 2.0.0 Bye\r\n");
  EXPECT_EQ(r.counters.messages, 1u);
  EXPECT_EQ(r.counters.recipients, 2u);
  // "Subject: hi\r\n\r\n..stuffed\r\n.not the end\r\n. \r\nlast\r\n": stuffing counted as received.
  EXPECT_EQ(r.counters.message_bytes, 50u);
  EXPECT_EQ(r.after, SinkSession::After::close);
  expect_split_invariant(SinkConfig{}, kPipelined);
}

TEST(SinkSession, EmptyMessageAndBareLfCommands) {
  std::string in = "HELO c\nMAIL FROM:<>\nRCPT TO:<b@y.test>\nDATA\n.\r\nRSET\nNOOP\n";
  Fed r = whole(SinkConfig{}, in);
  EXPECT_EQ(r.out,
            "250 sink.ringpost.test\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 Ok: queued as 1\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(r.counters.message_bytes, 0u);
  expect_split_invariant(SinkConfig{}, in);
}

TEST(SinkSession, DotLfIsContentNotTheEnd) {
  // Only CRLF "." CRLF ends the content (RFC 5321 §4.1.1.4); ".\n" is a line of content.
  std::string in = "HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nx\r\n.\nQUIT\r\n.\r\n";
  Fed r = whole(SinkConfig{}, in);
  EXPECT_EQ(r.counters.messages, 1u);
  EXPECT_EQ(r.after, SinkSession::After::none) << "QUIT inside the content must not run";
  expect_split_invariant(SinkConfig{}, in);
}

const std::string kBdat =
    "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 11\r\nQUIT\r\n.\r\n\r\nBDAT 4 LAST\r\nabcd"
    "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 0 LAST\r\nQUIT\r\n";

TEST(SinkSession, ChunkingBdat) {
  Fed r = whole(SinkConfig{}, kBdat);
  EXPECT_EQ(r.out, std::string(kEhloReply) +
                       "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 11 bytes\r\n250 2.0.0 Ok: queued as 1\r\n"
                       "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as 2\r\n221 2.0.0 Bye\r\n");
  EXPECT_EQ(r.counters.messages, 2u);
  EXPECT_EQ(r.counters.message_bytes, 15u);
  expect_split_invariant(SinkConfig{}, kBdat);
}

TEST(SinkSession, BdatWithoutTransactionIsReadAndRefused) {
  // RFC 3030 §2: the chunk is consumed even though it fails; its bytes are not commands.
  std::string in = "EHLO c\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n";
  Fed r = whole(SinkConfig{}, in);
  EXPECT_EQ(r.out, std::string(kEhloReply) + "503 5.5.1 Error: need MAIL and RCPT before BDAT\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(r.counters.messages, 0u);
  expect_split_invariant(SinkConfig{}, in);
}

TEST(SinkSession, DataAfterBdatAndBadBdatSyntax) {
  std::string in = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 1\r\nxDATA\r\nBDAT x\r\n";
  Fed r = whole(SinkConfig{}, in);
  EXPECT_NE(r.out.find("503 5.5.1 Error: DATA after BDAT\r\n501 5.5.4 Syntax: BDAT count [LAST]\r\n"), std::string::npos);
}

TEST(SinkSession, SizeLimits) {
  SinkConfig cfg;
  cfg.max_message_size = 10;
  std::string in = "EHLO c\r\nMAIL FROM:<a@x> SIZE=11\r\nMAIL FROM:<a@x> SIZE=10\r\nRCPT TO:<b@y>\r\nDATA\r\n"
                   "0123456789ab\r\n.\r\n";
  Fed r = whole(cfg, in);
  EXPECT_NE(r.out.find("552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0 Ok\r\n"), std::string::npos);
  EXPECT_TRUE(r.out.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Message size exceeds fixed limit\r\n"));
  EXPECT_EQ(r.counters.messages, 0u);
  EXPECT_EQ(r.counters.messages_rejected, 1u);
  expect_split_invariant(cfg, in);
}

TEST(SinkSession, SequenceAndSyntaxErrors) {
  std::string in =
      "MAIL FROM:<a@x>\r\nEHLO\r\nEHLO c\r\nRCPT TO:<b@y>\r\nDATA\r\nMAIL FROM:a@x\r\nMAIL FROM:<a@x> FOO=1\r\n"
      "MAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\nRCPT TO:<>\r\nDATA\r\nXYZZY\r\nSTARTTLS\r\n";
  EXPECT_EQ(whole(SinkConfig{}, in).out,
            "503 5.5.1 Error: send HELO/EHLO first\r\n501 5.5.4 Syntax: EHLO hostname\r\n" + std::string(kEhloReply) +
                "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n"
                "501 5.5.4 Syntax: MAIL FROM:<address>\r\n555 5.5.4 Unsupported option: FOO=1\r\n250 2.1.0 Ok\r\n"
                "503 5.5.1 Error: nested MAIL command\r\n501 5.1.3 Bad recipient address syntax\r\n"
                "554 5.5.1 Error: no valid recipients\r\n500 5.5.2 Error: command not recognized\r\n"
                "502 5.5.1 Error: command not implemented\r\n");
}

TEST(SinkSession, LineTooLongIsRefusedAndTheNextCommandWorks) {
  std::string in = "EHLO c\r\nNOOP " + std::string(5000, 'x') + "\r\nNOOP\r\n";
  Fed r = whole(SinkConfig{}, in);
  EXPECT_EQ(r.out, std::string(kEhloReply) + "500 5.5.0 Error: line too long\r\n250 2.0.0 Ok\r\n");
  expect_split_invariant(SinkConfig{}, in);
}

TEST(SinkSession, InjectedRcptAndDataFaults) {
  SinkConfig cfg;
  cfg.rcpt_5xx_pct = 100;
  Fed r = whole(cfg, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
  EXPECT_TRUE(r.out.ends_with("550 5.1.1 <b@y>: Recipient address rejected: injected fault\r\n"
                              "554 5.5.1 Error: no valid recipients\r\n"));
  EXPECT_EQ(r.counters.recipients_rejected, 1u);

  cfg = SinkConfig{};
  cfg.rcpt_4xx_pct = 100;
  EXPECT_TRUE(whole(cfg, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n")
                  .out.ends_with("450 4.2.0 <b@y>: Recipient address rejected: injected fault\r\n"));

  cfg = SinkConfig{};
  cfg.data_4xx_pct = 100;
  r = whole(cfg, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nhi\r\n.\r\n");
  EXPECT_TRUE(r.out.ends_with("451 4.3.0 Error: queue file write error: injected fault\r\n"));
  EXPECT_EQ(r.counters.messages_rejected, 1u);

  cfg = SinkConfig{};
  cfg.data_5xx_pct = 100;
  EXPECT_TRUE(whole(cfg, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 2 LAST\r\nhi")
                  .out.ends_with("554 5.6.0 Error: message rejected: injected fault\r\n"));
}

TEST(SinkSession, PartialFaultsAreReproducibleAndSplitInvariant) {
  SinkConfig cfg;
  cfg.rcpt_4xx_pct = 20;
  cfg.rcpt_5xx_pct = 20;
  cfg.data_4xx_pct = 25;
  std::string in = "EHLO c\r\n";
  for (int i = 0; i < 12; ++i) in += "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\nbody\r\n.\r\n";
  Fed a = whole(cfg, in, 42);
  EXPECT_EQ(whole(cfg, in, 42), a);
  EXPECT_GT(a.counters.recipients_rejected, 0u);
  EXPECT_GT(a.counters.recipients, 0u);
  expect_split_invariant(cfg, in, 42);
}

TEST(SinkSession, Reply421AfterNMessages) {
  SinkConfig cfg;
  cfg.reply_421_after = 2;
  std::string msg = "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nx\r\n.\r\n";
  std::string in = "EHLO c\r\n" + msg + msg + msg + "NOOP\r\n";
  Fed r = whole(cfg, in);
  EXPECT_EQ(r.counters.messages, 2u);
  EXPECT_TRUE(r.out.ends_with("250 2.0.0 Ok: queued as 2\r\n421 4.7.0 sink.ringpost.test Error: too many messages on "
                              "this connection\r\n"));
  EXPECT_EQ(r.after, SinkSession::After::close);
  EXPECT_EQ(r.counters.replies_421, 1u);
  expect_split_invariant(cfg, in);
}

TEST(SinkSession, DropAfterNMessages) {
  SinkConfig cfg;
  cfg.drop_after = 1;
  std::string in = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<a@x>\r\n";
  Fed r = whole(cfg, in);
  EXPECT_TRUE(r.out.ends_with("250 2.0.0 Ok: queued as 1\r\n")) << "nothing after the message that ends it";
  EXPECT_EQ(r.after, SinkSession::After::close);
  EXPECT_EQ(r.counters.drops, 1u);
  expect_split_invariant(cfg, in);
}

TEST(SinkSession, RefuseOverConnectionLimit) {
  SinkConfig cfg;
  SinkCounters c;
  SinkSession s(cfg, &c, 1);
  s.refuse();
  EXPECT_EQ(s.output(), "421 4.7.0 sink.ringpost.test Error: too many connections\r\n");
  EXPECT_EQ(s.after(), SinkSession::After::close);
  EXPECT_EQ(s.on_bytes("EHLO c\r\n"), 8u);
  EXPECT_EQ(s.output(), "421 4.7.0 sink.ringpost.test Error: too many connections\r\n");
}

TEST(SinkSession, StartTlsDropsPipelinedCommandsAndResetsState) {
  SinkConfig cfg;
  cfg.starttls = true;
  SinkCounters c;
  SinkSession s(cfg, &c, 1);
  s.on_bytes("EHLO c\r\n");
  EXPECT_NE(s.output().find("250-STARTTLS\r\n"), std::string::npos);
  s.output().clear();
  // RFC 3207 §4.2: commands pipelined after STARTTLS are not executed (command injection).
  EXPECT_EQ(s.on_bytes("STARTTLS\r\nMAIL FROM:<a@x>\r\n"), 27u);
  EXPECT_EQ(s.output(), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(s.after(), SinkSession::After::start_tls);
  s.output().clear();
  s.on_tls_started();
  EXPECT_TRUE(s.tls_active());
  s.on_bytes("MAIL FROM:<a@x>\r\nEHLO c\r\nSTARTTLS\r\n");
  EXPECT_EQ(s.output(), "503 5.5.1 Error: send HELO/EHLO first\r\n" + std::string(kEhloReply) +
                            "554 5.5.1 Error: TLS already active\r\n");
  EXPECT_EQ(c.tls_started, 1u);
}

TEST(SinkSession, StartTlsSplitInvariant) {
  SinkConfig cfg;
  cfg.starttls = true;
  expect_split_invariant(cfg, "EHLO c\r\nSTARTTLS\r\nQUIT\r\n");
}

}  // namespace
}  // namespace ringpost::sink
