// Connection reuse: max_msgs_per_connection caps the transactions on one connection, each
// connection ends with QUIT, and RSET is sent only to clean up after a failed transaction.
#include <algorithm>
#include <set>
#include <thread>

#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

class Reuse : public FaultTest {
 protected:
  // One connection at a time, so the count of connections is exactly ceil(messages / cap).
  void start_reuse_ringpost() {
    start_ringpost({"max_connections = 1", "max_msgs_per_connection = 10", R"(idle_timeout = "1s")"}, {"1s"});
  }
};

TEST_F(Reuse, ThirtyMessagesTenPerConnection) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({}));
  ASSERT_NO_FATAL_FAILURE(start_reuse_ringpost());
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < 30; ++i)
    batch.push_back({kSender, {addr(fmt::format("r{:02}", i))}, fmt::format("reuse {}", i), "hello"});
  auto ids = api_->submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_EQ(ids->size(), 30u);
  for (const auto& id : *ids) {
    auto st = poll_status(*api_, id, 60s, all_final);
    ASSERT_TRUE(st.ok) << id << " not final within 60 s; states:" << st.history;
    EXPECT_EQ(st.last.recipients[0].state, "delivered") << st.history;
    EXPECT_EQ(st.last.recipients[0].attempts, 1) << st.history;
  }
  // The last connection goes idle and is closed after idle_timeout (1 s).
  EXPECT_TRUE(wait_disconnects(3, 10s)) << smtp_->log_text();
  auto log = script_log();
  EXPECT_EQ(log.connects(), 3) << log.raw;
  for (int s = 1; s <= log.max_session(); ++s) {
    EXPECT_EQ(log.commands("MAIL", s).size(), 10u) << "session " << s << log.session_text(s);
    EXPECT_EQ(log.commands("EHLO", s).size(), 1u) << "session " << s;
    EXPECT_EQ(log.commands("QUIT", s).size(), 1u) << "session " << s << " did not end with QUIT" << log.session_text(s);
    auto msgs = log.messages(s);
    EXPECT_EQ(msgs.size(), 10u) << "session " << s;
    for (auto& m : msgs) EXPECT_TRUE(m.reply && m.reply->substr(0, 3) == "250") << log.session_text(s);
  }
  EXPECT_TRUE(log.commands("RSET").empty()) << "RSET after a successful transaction is wasted" << log.raw;
  EXPECT_EQ(log.messages().size(), 30u);
}

// chunking: false → DATA, true → BDAT (CHUNKING offered). With BDAT the pipelined chunk still
// goes after the refused RCPT; the server reads and discards it, answers 554, and the
// transaction needs RSET all the same.
class RsetAfterFailure : public Reuse, public ::testing::WithParamInterface<bool> {};

TEST_P(RsetAfterFailure, OnlyAfterFailedTransaction) {
  // The middle message's only recipient is refused: that transaction fails at RCPT and must be
  // reset before the next MAIL on the same connection; the successful ones must not be.
  const bool bdat = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + (bdat ? ",CHUNKING" : ""), "--reply",
                                      "RCPT:refused@=550 5.1.1 no such user"}));
  ASSERT_NO_FATAL_FAILURE(start_reuse_ringpost());
  std::vector<it::OutgoingMessage> batch = {{kSender, {addr("first")}, "one", "hello"},
                                            {kSender, {addr("refused")}, "two", "hello"},
                                            {kSender, {addr("third")}, "three", "hello"}};
  auto ids = api_->submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  const char* want[] = {"delivered", "bounced", "delivered"};
  for (std::size_t i = 0; i < ids->size(); ++i) {
    auto st = poll_status(*api_, (*ids)[i], 30s, all_final);
    ASSERT_TRUE(st.ok) << "not final within 30 s; states:" << st.history;
    EXPECT_EQ(st.last.recipients[0].state, want[i]) << st.history;
  }
  EXPECT_TRUE(wait_disconnects(1, 10s)) << smtp_->log_text();
  auto log = script_log();
  EXPECT_EQ(log.connects(), 1) << log.raw;
  auto rsets = log.commands("RSET");
  EXPECT_EQ(rsets.size(), 1u) << log.raw;
  // The RSET follows the refused transaction and precedes any later MAIL.
  std::string order;
  for (auto& e : log.commands()) {
    auto v = e.verb();
    if (v == "MAIL") order += angle_addr(e.line) == kSender ? "M" : "?";
    if (v == "RCPT") order += angle_addr(e.line) == addr("refused") ? "x" : "r";
    if (v == "RSET") order += "R";
    if (v == "DATA" || v == "BDAT") order += "D";
  }
  // Either M x R (no DATA after a refused sole recipient) or, pipelined, M x D R.
  bool ok = order.find("MxR") != std::string::npos || order.find("MxDR") != std::string::npos;
  EXPECT_TRUE(ok) << "command order " << order << log.raw;
  auto r = order.find('R');
  if (r != std::string::npos) {
    EXPECT_NE(order.find('M', r), std::string::npos) << "no MAIL after the RSET: " << order;
  }
  // Nothing but commands reached the command parser: no message content after a refused DATA,
  // and BDAT chunks were consumed by their byte count.
  for (auto& e : log.commands()) {
    static const std::set<std::string> kVerbs = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "QUIT", "NOOP"};
    EXPECT_TRUE(kVerbs.count(e.verb())) << "not a command: " << e.line << log.raw;
  }
  EXPECT_TRUE(log.of("error").empty()) << log.raw;
}

INSTANTIATE_TEST_SUITE_P(Faults, RsetAfterFailure, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Bdat") : std::string("Data"); });

// The server closes a pooled connection while it is idle (no 421, just FIN), as servers with
// short idle timers do. The next message must go on a new connection at its first attempt:
// ringpost keeps a receive armed on idle connections and drops the dead one, rather than
// writing MAIL into it and deferring the message as "connection lost".
TEST_F(Reuse, ServerClosedIdleConnectionIsNotReused) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--close-after-message"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({R"(idle_timeout = "30s")"}, {"1s"}));
  auto first = submit({addr("first")});
  ASSERT_FALSE(first.empty());
  auto st1 = poll_status(*api_, first, 20s, all_final);
  ASSERT_TRUE(st1.ok) << st1.history;
  EXPECT_EQ(st1.last.recipients[0].state, "delivered") << st1.history;
  ASSERT_TRUE(wait_disconnects(1, 5s)) << smtp_->log_text();
  std::this_thread::sleep_for(200ms);  // ringpost's armed receive sees the FIN well within this

  auto second = submit({addr("second")});
  ASSERT_FALSE(second.empty());
  auto st2 = poll_status(*api_, second, 20s, all_final);
  ASSERT_TRUE(st2.ok) << st2.history;
  const auto& r = st2.last.recipients[0];
  EXPECT_EQ(r.state, "delivered") << st2.history;
  EXPECT_EQ(r.attempts, 1) << "the second message was tried on the dead connection first" << st2.history;
  EXPECT_EQ(st2.history.find("deferred"), std::string::npos) << st2.history;
  auto log = script_log();
  EXPECT_EQ(log.connects(), 2) << log.raw;
  EXPECT_EQ(log.messages().size(), 2u) << log.raw;
}

// 421 on the third MAIL of a reused connection: the two messages before it stay delivered
// (never sent again), the one that got the 421 is retried, and the ones still queued behind it
// are neither lost nor duplicated.
TEST_F(Reuse, Reply421MidConnectionLosesAndDuplicatesNothing) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--reply", "MAIL+2#1=421 4.3.2 shutting down"}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({"max_connections = 1"}, {"2s"}));
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({kSender, {addr(fmt::format("m{}", i))}, fmt::format("m{}", i), "hi"});
  auto ids = api_->submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  std::vector<MessageStatus> finals;
  for (const auto& id : *ids) {
    auto st = poll_status(*api_, id, 30s, all_final);
    ASSERT_TRUE(st.ok) << id << " not final within 30 s; states:" << st.history;
    EXPECT_EQ(st.last.recipients[0].state, "delivered") << st.history;
    finals.push_back(st.last);
  }
  auto log = script_log();
  int retried = 0;
  for (const auto& m : finals) {
    const auto& r = m.recipients[0];
    int copies = 0;
    for (auto& msg : log.messages())
      for (auto& rc : msg.rcpts)
        if (angle_addr(rc) == r.address && msg.reply && msg.reply->substr(0, 3) == "250") ++copies;
    EXPECT_EQ(copies, 1) << r.address << " accepted " << copies << " times" << log.raw;
    if (r.attempts > 1) ++retried;
  }
  // The message that met the 421 (its RCPT was never read: the script hung up) needed a retry.
  // Whether the ones queued behind it are retried too (site deferral) is policy, not asserted.
  EXPECT_GE(retried, 1);
  // Session 1 carried exactly two messages before the 421.
  EXPECT_EQ(log.messages(1).size(), 2u) << log.session_text(1);
}

}  // namespace
}  // namespace ringpost::faults
