// The server goes away: 421 in the greeting, 421 in the middle of a transaction, and a TCP
// close in the middle of the message content. Each must defer (never deliver, never bounce)
// and be delivered by the retry; checked in the status API and in the script's log.
#include <algorithm>

#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

// Polls until every recipient is deferred with a reply satisfying `ok` (true) or any recipient
// is final first (false: something was decided before the deferral we expected).
Polled wait_all_deferred(RingpostApi& api, const std::string& id, std::size_t n,
                         const std::function<bool(const it::ReplyInfo&)>& ok) {
  return poll_status(api, id, 20s, [&](const MessageStatus& m) {
    if (m.recipients.size() != n) return false;
    bool any_final = std::any_of(m.recipients.begin(), m.recipients.end(), is_final);
    bool all_deferred = std::all_of(m.recipients.begin(), m.recipients.end(), [&](const RecipientStatus& r) {
      return r.state == "deferred" && r.last_reply && ok(*r.last_reply);
    });
    return any_final || all_deferred;
  });
}

class Disconnect : public FaultTest {};

TEST_F(Disconnect, Greeting421DefersThenDelivers) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--greeting", "421 4.3.2 fault.test busy, try later", "--fault-sessions", "1"}));
  // 2 s between attempts leaves a wide window to see "deferred" by polling.
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"2s"}));
  auto id = submit({addr("alice")});
  ASSERT_FALSE(id.empty());

  auto first = wait_all_deferred(*api_, id, 1, [](const it::ReplyInfo& r) { return r.code == 421; });
  ASSERT_TRUE(first.ok) << "never saw deferred/421; states:" << first.history;
  const auto& r1 = first.last.recipients[0];
  ASSERT_EQ(r1.state, "deferred") << "decided before the 421 deferral; states:" << first.history;
  EXPECT_EQ(r1.last_reply->enhanced, "4.3.2") << first.history;
  EXPECT_TRUE(contains_icase(r1.last_reply->text, "busy")) << "the server's own text should be kept" << first.history;
  EXPECT_EQ(r1.attempts, 1) << first.history;

  auto second = poll_status(*api_, id, 30s, all_final);
  ASSERT_TRUE(second.ok) << "not final 30 s after the deferral; states:" << first.history << second.history;
  const auto& r2 = second.last.recipients[0];
  EXPECT_EQ(r2.state, "delivered") << second.history;
  EXPECT_EQ(r2.attempts, 2) << second.history;
  ASSERT_TRUE(r2.last_reply);
  EXPECT_EQ(r2.last_reply->code, 250);

  auto log = script_log();
  // Session 1 got the 421 greeting: ringpost must not have gone on with EHLO or MAIL there.
  EXPECT_TRUE(log.commands("EHLO", 1).empty() && log.commands("MAIL", 1).empty()) << log.session_text(1);
  EXPECT_TRUE(log.messages(1).empty()) << log.session_text(1);
  // Session 2 carried the one and only copy.
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  EXPECT_EQ(msgs[0].session, 2);
  EXPECT_TRUE(msgs[0].complete);
  EXPECT_EQ(log.connects(), 2) << log.raw;
}

TEST_F(Disconnect, Reply421AfterRcptDefersThenDelivers) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--421-after", "RCPT", "--fault-sessions", "1"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"2s"}));
  auto id = submit({addr("alice"), addr("bob")});
  ASSERT_FALSE(id.empty());

  auto first = wait_all_deferred(*api_, id, 2, [](const it::ReplyInfo& r) { return r.code == 421; });
  ASSERT_TRUE(first.ok) << "never saw both recipients deferred/421; states:" << first.history;
  for (const auto& r : first.last.recipients) {
    ASSERT_EQ(r.state, "deferred") << "decided before the 421 deferral; states:" << first.history;
    EXPECT_EQ(r.attempts, 1) << first.history;
  }
  EXPECT_EQ(first.history.find("delivered"), std::string::npos) << first.history;

  auto second = poll_status(*api_, id, 30s, all_final);
  ASSERT_TRUE(second.ok) << "not final 30 s after the deferral; states:" << first.history << second.history;
  for (const auto& r : second.last.recipients) {
    EXPECT_EQ(r.state, "delivered") << second.history;
    EXPECT_EQ(r.attempts, 2) << second.history;
  }

  auto log = script_log();
  // Session 1: the script sent 421 after the first RCPT and closed; no content, no message.
  auto faults = log.of("fault", 1);
  ASSERT_EQ(faults.size(), 1u) << log.session_text(1);
  EXPECT_EQ(faults[0].kind, "421");
  EXPECT_TRUE(log.messages(1).empty()) << log.session_text(1);
  auto d1 = log.disconnect(1);
  ASSERT_TRUE(d1) << log.session_text(1);
  EXPECT_EQ(d1->by, "server");
  // Session 2: one message for both recipients, accepted.
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  EXPECT_EQ(msgs[0].session, 2);
  EXPECT_EQ(msgs[0].rcpts.size(), 2u) << log.raw;
  ASSERT_TRUE(msgs[0].reply);
  EXPECT_EQ(msgs[0].reply->substr(0, 3), "250");
}

// The whole message arrived but the connection died before the reply to the final dot: the
// outcome is unknown, so it must be deferred (RFC 5321 §4.1.1.4 / RFC 1047: a possible
// duplicate is the price), never counted as delivered.
TEST_F(Disconnect, DropBeforeFinalReplyDefersThenDelivers) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--drop-after", "DATA-END", "--fault-sessions", "1"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"2s"}));
  auto id = submit({addr("alice")});
  ASSERT_FALSE(id.empty());

  auto first = wait_all_deferred(*api_, id, 1, [](const it::ReplyInfo& r) { return r.code / 100 == 4; });
  ASSERT_TRUE(first.ok) << "never saw deferred/4xx; states:" << first.history;
  RecordProperty("first_status", it::summarize(first.last));  // shown in --gtest_output=xml
  ASSERT_EQ(first.last.recipients[0].state, "deferred") << "decided before the deferral; states:" << first.history;
  EXPECT_EQ(first.last.recipients[0].attempts, 1) << first.history;

  auto second = poll_status(*api_, id, 30s, all_final);
  ASSERT_TRUE(second.ok) << "not final 30 s after the deferral; states:" << first.history << second.history;
  EXPECT_EQ(second.last.recipients[0].state, "delivered") << second.history;
  EXPECT_EQ(second.last.recipients[0].attempts, 2) << second.history;

  auto log = script_log();
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 2u) << log.raw;
  EXPECT_EQ(msgs[0].session, 1);
  EXPECT_TRUE(msgs[0].complete);
  EXPECT_FALSE(msgs[0].reply.has_value()) << "session 1 must have got no reply" << log.session_text(1);
  EXPECT_EQ(msgs[1].session, 2);
  ASSERT_TRUE(msgs[1].reply);
  EXPECT_EQ(msgs[1].reply->substr(0, 3), "250");
  auto d1 = log.disconnect(1);
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->by, "server");
}

// chunking: false → DATA, true → BDAT (the server offers CHUNKING).
class DropMidData : public FaultTest, public ::testing::WithParamInterface<bool> {};

TEST_P(DropMidData, DefersAndRedeliversWholeMessage) {
  const bool bdat = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + (bdat ? ",CHUNKING" : ""),
                                      "--drop-mid-data", "4000", "--fault-sessions", "1"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({bdat ? "chunking = true" : "chunking = false"}, {"2s"}));
  std::string text;
  for (int i = 0; i < 300; ++i) text += fmt::format("line {:04} of a body long enough to be cut in the middle\n", i);
  auto id = submit({addr("alice")}, "cut me", text);
  ASSERT_FALSE(id.empty());

  auto first = wait_all_deferred(*api_, id, 1, [](const it::ReplyInfo& r) { return r.code / 100 == 4; });
  ASSERT_TRUE(first.ok) << "never saw deferred/4xx; states:" << first.history;
  RecordProperty("first_status", it::summarize(first.last));  // shown in --gtest_output=xml
  ASSERT_EQ(first.last.recipients[0].state, "deferred") << "decided before the deferral; states:" << first.history;
  EXPECT_EQ(first.history.find("delivered"), std::string::npos) << first.history;

  auto second = poll_status(*api_, id, 30s, all_final);
  ASSERT_TRUE(second.ok) << "not final 30 s after the deferral; states:" << first.history << second.history;
  EXPECT_EQ(second.last.recipients[0].state, "delivered") << second.history;
  EXPECT_EQ(second.last.recipients[0].attempts, 2) << second.history;

  auto log = script_log();
  auto m1 = log.messages(1);
  ASSERT_EQ(m1.size(), 1u) << log.session_text(1);
  EXPECT_FALSE(m1[0].complete);
  EXPECT_EQ(m1[0].mode, bdat ? "BDAT" : "DATA");
  EXPECT_GE(m1[0].bytes, 4000);
  auto full = log.messages();
  ASSERT_EQ(full.size(), 2u) << log.raw;
  const auto& m2 = full[1];
  EXPECT_EQ(m2.session, 2);
  EXPECT_TRUE(m2.complete);
  ASSERT_TRUE(m2.reply);
  EXPECT_EQ(m2.reply->substr(0, 3), "250");
  EXPECT_GT(m2.bytes, m1[0].bytes + 10000) << "the retry must carry the whole message";
  // The cut-off copy is a prefix of the retried one: the same spooled bytes were sent again.
  auto partial = read_file(m1[0].file);
  auto whole = read_file(m2.file);
  EXPECT_EQ(whole.compare(0, partial.size(), partial), 0) << "partial copy is not a prefix of the full one";
}

INSTANTIATE_TEST_SUITE_P(Faults, DropMidData, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Bdat") : std::string("Data"); });

}  // namespace
}  // namespace ringpost::faults
