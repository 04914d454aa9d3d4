// ESMTP extensions as seen on the wire: CHUNKING (RFC 3030: exact BDAT byte counts and no
// dot-stuffing) versus DATA (RFC 5321 §4.5.2 dot-stuffing), PIPELINING (RFC 2920: MAIL/RCPT/DATA
// in one write when offered, lock-step when not), SMTPUTF8 (RFC 6531).
#include <algorithm>
#include <numeric>

#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

// A body with every dot case: a leading dot, two leading dots, a line that is only a dot.
constexpr std::string_view kDotBody = "first line\r\n.leading dot line\r\n..two dots\r\n.\r\nlast line\r\n";
constexpr std::string_view kDotBodyStuffed = "first line\r\n..leading dot line\r\n...two dots\r\n..\r\nlast line\r\n";

struct ChunkCase {
  const char* name;
  bool offered;       // server offers CHUNKING
  bool configured;    // chunking = true
  bool expect_bdat;
};

std::ostream& operator<<(std::ostream& os, const ChunkCase& c) { return os << c.name; }

class Chunking : public FaultTest, public ::testing::WithParamInterface<ChunkCase> {};

TEST_P(Chunking, BodyFramingOnTheWire) {
  const ChunkCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + (c.offered ? ",CHUNKING" : "")}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({c.configured ? "chunking = true" : "chunking = false"}));
  std::string raw = "Subject: dots\r\nFrom: sender@example.test\r\nTo: alice@fault.test\r\n\r\n" + std::string(kDotBody);
  auto id = submit_raw(*api_, kSender, {addr("alice")}, raw);
  ASSERT_TRUE(id) << id.error();
  auto st = poll_status(*api_, *id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  EXPECT_EQ(st.last.recipients[0].state, "delivered") << st.history;

  auto log = script_log();
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  const auto& m = msgs[0];
  EXPECT_TRUE(m.complete);
  auto payload = read_file(m.file);
  ASSERT_EQ(static_cast<int64_t>(payload.size()), m.bytes);
  auto ends_with = [&](std::string_view tail) {
    return payload.size() >= tail.size() && payload.compare(payload.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (c.expect_bdat) {
    EXPECT_EQ(m.mode, "BDAT");
    EXPECT_TRUE(log.commands("DATA").empty()) << log.raw;
    auto bdats = log.of("bdat");
    ASSERT_FALSE(bdats.empty());
    EXPECT_TRUE(bdats.back().last) << "the last BDAT must carry LAST" << log.raw;
    // The script read exactly the announced counts (it would otherwise have parsed body bytes as
    // commands) and the sum is the payload; the payload is the message as is, not stuffed.
    EXPECT_EQ(std::accumulate(m.chunks.begin(), m.chunks.end(), int64_t{0}), m.bytes);
    EXPECT_TRUE(ends_with(std::string("\r\n\r\n") + std::string(kDotBody))) << "payload tail: " << payload;
    EXPECT_EQ(payload.find("\r\n..leading"), std::string::npos) << "BDAT content was dot-stuffed";
  } else {
    EXPECT_EQ(m.mode, "DATA");
    EXPECT_TRUE(log.commands("BDAT").empty()) << log.raw;
    EXPECT_TRUE(ends_with(std::string("\r\n\r\n") + std::string(kDotBodyStuffed))) << "payload tail: " << payload;
  }
  for (auto& e : log.commands()) EXPECT_NE(e.verb().substr(0, 1), ".") << "body bytes parsed as a command: " << e.line;
  EXPECT_TRUE(log.of("error").empty()) << log.raw;
}

INSTANTIATE_TEST_SUITE_P(Faults, Chunking,
                         ::testing::Values(ChunkCase{"OfferedAndEnabled", true, true, true},
                                           ChunkCase{"OfferedButDisabled", true, false, false},
                                           ChunkCase{"NotOffered", false, true, false}),
                         [](const auto& info) { return std::string(info.param.name); });

class Pipelining : public FaultTest {};

TEST_F(Pipelining, OfferedSendsEnvelopeInOneWrite) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", kCapsPipelining}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}));
  auto id = submit({addr("alice"), addr("bob")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  for (auto& r : st.last.recipients) EXPECT_EQ(r.state, "delivered") << st.history;

  auto log = script_log();
  auto mail = log.commands("MAIL", 1), rcpt = log.commands("RCPT", 1), data = log.commands("DATA", 1);
  ASSERT_EQ(mail.size(), 1u) << log.session_text(1);
  ASSERT_EQ(rcpt.size(), 2u) << log.session_text(1);
  ASSERT_EQ(data.size(), 1u) << log.session_text(1);
  // RFC 2920 §3.1: MAIL, the RCPTs and DATA may go in one batch; the script saw them arrive in
  // one TCP read.
  EXPECT_EQ(rcpt[0].read, mail[0].read) << log.session_text(1);
  EXPECT_EQ(rcpt[1].read, mail[0].read) << log.session_text(1);
  EXPECT_EQ(data[0].read, mail[0].read) << log.session_text(1);
  auto ehlo = log.commands("EHLO", 1);
  ASSERT_EQ(ehlo.size(), 1u);
  EXPECT_LT(ehlo[0].read, mail[0].read) << "MAIL cannot go before the EHLO reply listed PIPELINING";
}

TEST_F(Pipelining, OfferedWithChunkingSendsBdatInTheSameWrite) {
  // RFC 3030 §4.2 / RFC 2920: BDAT has no intermediate reply, so with both extensions the
  // whole transaction (MAIL, RCPT, BDAT n LAST and its content) can go in one batch.
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + ",CHUNKING"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({"chunking = true"}));
  auto id = submit({addr("alice"), addr("bob")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  for (auto& r : st.last.recipients) EXPECT_EQ(r.state, "delivered") << st.history;

  auto log = script_log();
  auto mail = log.commands("MAIL", 1), rcpt = log.commands("RCPT", 1), bdat = log.commands("BDAT", 1);
  ASSERT_EQ(mail.size(), 1u) << log.session_text(1);
  ASSERT_EQ(rcpt.size(), 2u) << log.session_text(1);
  ASSERT_EQ(bdat.size(), 1u) << log.session_text(1);
  EXPECT_EQ(rcpt[0].read, mail[0].read) << log.session_text(1);
  EXPECT_EQ(rcpt[1].read, mail[0].read) << log.session_text(1);
  EXPECT_EQ(bdat[0].read, mail[0].read) << log.session_text(1);
  EXPECT_TRUE(log.commands("DATA", 1).empty()) << log.session_text(1);
}

// Every reply arrives one byte per TCP segment, the multi-line EHLO reply included: the driver
// must reassemble them and still see PIPELINING, CHUNKING and the 250s.
TEST_F(Pipelining, RepliesDribbledOneByteAtATime) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + ",CHUNKING", "--dribble"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({"chunking = true"}));
  auto id = submit({addr("alice"), addr("bob")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 30s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 30 s; states:" << st.history;
  for (auto& r : st.last.recipients) {
    EXPECT_EQ(r.state, "delivered") << st.history;
    ASSERT_TRUE(r.last_reply);
    EXPECT_EQ(r.last_reply->text, "Ok: queued as S1M1") << st.history;
  }
  auto log = script_log();
  auto mail = log.commands("MAIL", 1), bdat = log.commands("BDAT", 1);
  ASSERT_EQ(mail.size(), 1u) << log.session_text(1);
  ASSERT_EQ(bdat.size(), 1u) << "CHUNKING from the dribbled EHLO reply was missed" << log.session_text(1);
  EXPECT_EQ(bdat[0].read, mail[0].read) << "PIPELINING from the dribbled EHLO reply was missed";
  EXPECT_EQ(log.connects(), 1);
}

TEST_F(Pipelining, NotOfferedSendsOneCommandAtATime) {
  // Small delays make a client that runs ahead visible: its next command would arrive before
  // the delayed reply was sent.
  ASSERT_NO_FATAL_FAILURE(
      start_smtp({"--caps", "8BITMIME,ENHANCEDSTATUSCODES", "--delay", "MAIL=0.3", "--delay", "RCPT=0.3"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}));
  auto id = submit({addr("alice"), addr("bob")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  for (auto& r : st.last.recipients) EXPECT_EQ(r.state, "delivered") << st.history;

  auto log = script_log();
  // Walk session 1: every command after EHLO must arrive after the reply to the one before it,
  // in a read of its own.
  const FaultEvent* prev_cmd = nullptr;
  const FaultEvent* prev_reply = nullptr;
  int checked = 0;
  for (const auto& e : log.events) {
    if (e.session != 1) continue;
    if (e.ev == "reply") prev_reply = &e;
    if (e.ev != "cmd") continue;
    if (prev_cmd) {
      EXPECT_NE(e.read, prev_cmd->read) << e.line << " arrived with " << prev_cmd->line << log.session_text(1);
      ASSERT_TRUE(prev_reply);
      EXPECT_GE(e.arrived, prev_reply->t) << e.line << " arrived before the reply to " << prev_cmd->line;
      ++checked;
    }
    prev_cmd = &e;
  }
  EXPECT_GE(checked, 4) << "expected at least MAIL, RCPT, RCPT, DATA after EHLO" << log.session_text(1);
}

// RFC 5321 §3.2 / §4.1.4: a server that does not know EHLO answers 500/502; the client falls
// back to HELO and then uses no extension at all.
TEST_F(FaultTest, EhloRefusedFallsBackToHelo) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--reply", "EHLO=502 5.5.2 Error: command not recognized"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}));
  auto id = submit({addr("alice")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  EXPECT_EQ(st.last.recipients[0].state, "delivered") << st.history;
  EXPECT_EQ(st.last.recipients[0].attempts, 1) << st.history;
  auto log = script_log();
  std::string verbs;
  for (auto& e : log.commands({}, 1)) verbs += e.verb() + " ";
  EXPECT_EQ(verbs.rfind("EHLO HELO MAIL RCPT DATA", 0), 0u) << verbs << log.session_text(1);
  auto mails = log.commands("MAIL", 1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].line, "MAIL FROM:<sender@example.test>") << "no ESMTP parameters after HELO";
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  EXPECT_EQ(msgs[0].mode, "DATA");
}

class SmtpUtf8 : public FaultTest {
 protected:
  // A UTF-8 local part (RFC 6531 §3.3). The API takes it when the message opts in with
  // "smtputf8": true (engine/api/mail_address.cc, docs/api.md).
  const std::string utf8_rcpt_ = "用户@fault.test";
  std::string submit_utf8() {
    auto id = api_->submit({kSender, {utf8_rcpt_}, "fault test", "hello from the fault tests", true});
    EXPECT_TRUE(id) << id.error();
    return id ? *id : std::string();
  }
};

// Caught the same "local refusal never collected" bug as Replies.SizeOverLimitBouncesLocally.
TEST_F(SmtpUtf8, NotOfferedBounces553) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", kCapsPipelining}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"1s"}));
  auto id = submit_utf8();
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  const auto& r = st.last.recipients[0];
  EXPECT_EQ(r.state, "bounced") << st.history;
  ASSERT_TRUE(r.last_reply) << st.history;
  EXPECT_EQ(r.last_reply->code, 553) << st.history;
  EXPECT_EQ(r.last_reply->enhanced, "5.6.7") << st.history;
  auto log = script_log();
  for (auto& e : log.commands("RCPT")) EXPECT_NE(angle_addr(e.line), utf8_rcpt_) << "sent without SMTPUTF8: " << e.line;
  EXPECT_TRUE(log.commands("MAIL").empty()) << log.raw;
  EXPECT_TRUE(log.messages().empty()) << log.raw;
}

TEST_F(SmtpUtf8, OfferedSendsSmtputf8Param) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + ",SMTPUTF8"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"1s"}));
  auto id = submit_utf8();
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, all_final);
  ASSERT_TRUE(st.ok) << "not final within 20 s; states:" << st.history;
  EXPECT_EQ(st.last.recipients[0].state, "delivered") << st.history;
  auto log = script_log();
  auto mails = log.commands("MAIL");
  ASSERT_EQ(mails.size(), 1u) << log.raw;
  EXPECT_NE(mails[0].line.find(" SMTPUTF8"), std::string::npos) << mails[0].line;
  auto rcpts = log.commands("RCPT");
  ASSERT_EQ(rcpts.size(), 1u) << log.raw;
  EXPECT_EQ(angle_addr(rcpts[0].line), utf8_rcpt_) << "the UTF-8 bytes must go as they are: " << rcpts[0].line;
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  EXPECT_TRUE(msgs[0].reply && msgs[0].reply->substr(0, 3) == "250");
}

}  // namespace
}  // namespace ringpost::faults
