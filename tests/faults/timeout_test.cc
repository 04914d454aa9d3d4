// Per-phase SMTP timeouts (RFC 5321 §4.5.3.2): a phase whose timeout is 1 s and whose reply the
// script delays by 3 s must defer with a reply naming the timeout and phase, and ringpost must
// close the connection itself (the script logs the client's disconnect during its delay). A
// 1 s timeout on one phase must not fire while a *different* phase's reply is slow.
#include <algorithm>
#include <array>

#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

struct PhaseCase {
  const char* name;        // test name suffix
  const char* key;         // config key set to "1s"
  const char* delayed;     // the script's command name whose reply is delayed 3 s
  bool chunking;           // offer CHUNKING (BDAT) instead of DATA
  // The synthetic reply's text must contain one of these (case-insensitive) ...
  std::vector<std::string> names;
  // ... and none of these (a data_end timeout must not be reported as a DATA-initiation one).
  std::vector<std::string> not_names;
};

std::ostream& operator<<(std::ostream& os, const PhaseCase& c) { return os << c.name; }

class TimeoutFires : public FaultTest, public ::testing::WithParamInterface<PhaseCase> {};

TEST_P(TimeoutFires, DefersAndClosesConnection) {
  const PhaseCase& c = GetParam();
  std::string caps = std::string(kCapsPipelining) + (c.chunking ? ",CHUNKING" : "");
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", caps, "--delay", fmt::format("{}=3", c.delayed)}));
  // One attempt only: a retry would muddy "what closed the first connection".
  ASSERT_NO_FATAL_FAILURE(start_ringpost({fmt::format("{} = \"1s\"", c.key), "chunking = true"}, {"1h"}));
  auto id = submit({addr("alice")});
  ASSERT_FALSE(id.empty());

  auto st = poll_status(*api_, id, 15s, [](const MessageStatus& m) {
    return m.recipients.size() == 1 && (is_final(m.recipients[0]) ||
                                        (m.recipients[0].state == "deferred" && m.recipients[0].attempts >= 1));
  });
  ASSERT_TRUE(st.ok) << "no outcome within 15 s (a 1 s timeout should have fired); states:" << st.history;
  const auto& r = st.last.recipients[0];
  RecordProperty("recipient_status", it::summarize(st.last));  // shown in --gtest_output=xml
  EXPECT_EQ(r.state, "deferred") << st.history;
  EXPECT_EQ(r.attempts, 1) << st.history;
  ASSERT_TRUE(r.last_reply) << st.history;
  EXPECT_EQ(r.last_reply->code / 100, 4) << st.history;
  EXPECT_TRUE(contains_icase(r.last_reply->text, "timeout") || contains_icase(r.last_reply->text, "timed out"))
      << "reply text should say it was a timeout: " << st.history;
  EXPECT_TRUE(std::any_of(c.names.begin(), c.names.end(),
                          [&](auto& n) { return contains_icase(r.last_reply->text, n); }))
      << "reply text should name the phase (" << fmt::format("{}", fmt::join(c.names, " | ")) << "): " << st.history;
  for (auto& n : c.not_names)
    EXPECT_FALSE(contains_icase(r.last_reply->text, n)) << "reply names the wrong phase: " << st.history;

  // The script: ringpost hung up while the reply was being held back, about 1 s in.
  ASSERT_TRUE(wait_disconnects(1, 5s)) << smtp_->log_text();
  auto log = script_log();
  auto d = log.disconnect(1);
  ASSERT_TRUE(d) << log.raw;
  EXPECT_EQ(d->by, "client") << log.session_text(1);
  EXPECT_EQ(d->during, fmt::format("delay:{}", c.delayed)) << log.session_text(1);
  auto delays = log.of("fault", 1);
  ASSERT_FALSE(delays.empty()) << log.session_text(1);
  const double waited = d->t - delays.front().t;
  EXPECT_GT(waited, 0.8) << "closed before the 1 s timeout" << log.session_text(1);
  EXPECT_LT(waited, 2.5) << "closed well after the 1 s timeout" << log.session_text(1);
  for (auto& m : log.messages()) EXPECT_FALSE(m.reply.has_value()) << "no message may have been answered";
  EXPECT_EQ(log.connects(), 1) << log.raw;
  // Still deferred, nothing decided behind our back.
  auto later = api_->status(id);
  ASSERT_TRUE(later) << later.error();
  EXPECT_EQ(later->recipients[0].state, "deferred") << it::summarize(*later);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, TimeoutFires,
    ::testing::Values(PhaseCase{"Greeting", "greeting_timeout", "GREETING", false, {"greeting", "banner"}, {}},
                      PhaseCase{"Ehlo", "command_timeout", "EHLO", false, {"EHLO"}, {}},
                      PhaseCase{"Mail", "mail_timeout", "MAIL", false, {"MAIL"}, {"RCPT"}},
                      PhaseCase{"Rcpt", "rcpt_timeout", "RCPT", false, {"RCPT"}, {"MAIL FROM"}},
                      PhaseCase{"Data", "data_timeout", "DATA", false, {"DATA"}, {"end of", "final", "dot"}},
                      PhaseCase{"DataEnd", "data_end_timeout", "DATA-END", false,
                                {"end of data", "end-of-data", "data end", "data_end", "final", "dot"}, {}},
                      PhaseCase{"BdatLast", "data_end_timeout", "DATA-END", true,
                                {"BDAT", "end of data", "end-of-data", "data end", "data_end", "final", "last"}, {}}),
    [](const auto& info) { return std::string(info.param.name); });

// RFC 5321 §4.5.3.2.5: each write of the content must make progress within data_block_timeout.
// The script stops reading after 64 KB for 10 s; the 8 MB body cannot fit in the socket
// buffers, so ringpost's write stalls and the 1 s data-block timeout must end the attempt long
// before the script would read again (after which the delivery would otherwise succeed).
class DataBlock : public FaultTest {
 protected:
  // Runs the stall and returns the recipient's status once it is deferred or final.
  void run_stall(Polled& st) {
    ASSERT_NO_FATAL_FAILURE(start_smtp({"--stall-mid-data", "65536=10"}));
    ASSERT_NO_FATAL_FAILURE(start_ringpost({R"(data_block_timeout = "1s")", "chunking = false"}, {"1h"}));
    std::string raw = "Subject: big\r\nFrom: sender@example.test\r\nTo: alice@fault.test\r\n\r\n";
    raw.reserve(8u << 20);
    for (int i = 0; raw.size() < (8u << 20) && i < 1000000; ++i)
      raw += fmt::format("{:07} 0123456789012345678901234567890123456789012345678901234567890123456789\r\n", i);
    auto id = submit_raw(*api_, kSender, {addr("alice")}, raw);
    ASSERT_TRUE(id) << id.error();
    st = poll_status(*api_, *id, 9s, [](const MessageStatus& m) {
      return m.recipients.size() == 1 && (is_final(m.recipients[0]) || m.recipients[0].state == "deferred");
    });
    ASSERT_TRUE(st.ok) << "no outcome within 9 s while the server had stopped reading; states:" << st.history;
    RecordProperty("recipient_status", it::summarize(st.last));  // shown in --gtest_output=xml
    ASSERT_TRUE(st.last.recipients[0].last_reply) << st.history;
  }
};

TEST_F(DataBlock, TimeoutFiresWhenServerStopsReading) {
  Polled st;
  ASSERT_NO_FATAL_FAILURE(run_stall(st));
  const auto& r = st.last.recipients[0];
  EXPECT_EQ(r.state, "deferred") << st.history;
  EXPECT_EQ(r.attempts, 1) << st.history;
  EXPECT_EQ(r.last_reply->code / 100, 4) << st.history;
  EXPECT_TRUE(contains_icase(r.last_reply->text, "timeout") || contains_icase(r.last_reply->text, "timed out"))
      << st.history;

  auto log = script_log();
  auto stalls = log.of("fault", 1);
  ASSERT_EQ(stalls.size(), 1u) << log.session_text(1);
  EXPECT_EQ(stalls[0].kind, "stall");
  // The script sees the client's hang-up once it reads again, after its 10 s stall, and then
  // logs the partial message.
  ASSERT_TRUE(it::wait_until(15s, 50ms, [&] {
    auto l = smtp_->log();
    return l && !l->of("disconnect").empty() && !l->messages().empty();
  })) << smtp_->log_text();
  log = script_log();
  auto d = log.disconnect(1);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->by, "client") << log.session_text(1);
  auto msgs = log.messages(1);
  ASSERT_EQ(msgs.size(), 1u) << log.session_text(1);
  EXPECT_FALSE(msgs[0].complete) << "the whole 8 MB arrived: the stall did not block ringpost's writes";
}

// When the data-block timeout fires, the reply must name the stalled content write, not the
// end-of-data reply that never came: an operator reading it tunes data_block_timeout.
TEST_F(DataBlock, TimeoutReplyNamesDataBlock) {
  Polled st;
  ASSERT_NO_FATAL_FAILURE(run_stall(st));
  const auto& text = st.last.recipients[0].last_reply->text;
  EXPECT_FALSE(contains_icase(text, "end of data reply")) << st.history;
  EXPECT_TRUE(contains_icase(text, "block") || contains_icase(text, "writ") || contains_icase(text, "send"))
      << st.history;
}

// One phase's timeout is 1 s; a different phase is slow (3 s). Delivery must succeed.
struct CrossCase {
  const char* name;
  const char* key;      // set to 1s
  const char* delayed;  // delayed 3 s
  bool pipelining;
};

std::ostream& operator<<(std::ostream& os, const CrossCase& c) { return os << c.name; }

class TimeoutOtherPhase : public FaultTest, public ::testing::WithParamInterface<CrossCase> {};

TEST_P(TimeoutOtherPhase, DoesNotFire) {
  const CrossCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", c.pipelining ? kCapsPipelining : "8BITMIME,ENHANCEDSTATUSCODES",
                                      "--delay", fmt::format("{}=3", c.delayed)}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({fmt::format("{} = \"1s\"", c.key)}, {"1h"}));
  auto id = submit({addr("alice")});
  ASSERT_FALSE(id.empty());
  auto st = poll_status(*api_, id, 20s, [](const MessageStatus& m) {
    return m.recipients.size() == 1 && (is_final(m.recipients[0]) || m.recipients[0].state == "deferred");
  });
  ASSERT_TRUE(st.ok) << "no outcome within 20 s; states:" << st.history;
  const auto& r = st.last.recipients[0];
  EXPECT_EQ(r.state, "delivered") << c.key << "=1s fired while " << c.delayed << " was slow? states:" << st.history;
  EXPECT_EQ(r.attempts, 1) << st.history;

  auto log = script_log();
  auto msgs = log.messages();
  ASSERT_EQ(msgs.size(), 1u) << log.raw;
  ASSERT_TRUE(msgs[0].reply) << log.raw;
  EXPECT_EQ(msgs[0].reply->substr(0, 3), "250");
  auto d = log.disconnect(1);
  EXPECT_TRUE(!d || d->during.rfind("delay:", 0) != 0) << "ringpost hung up during the delay" << log.raw;
  EXPECT_EQ(log.connects(), 1) << log.raw;
}

INSTANTIATE_TEST_SUITE_P(Faults, TimeoutOtherPhase,
                         ::testing::Values(CrossCase{"GreetingVsSlowMail", "greeting_timeout", "MAIL", true},
                                           CrossCase{"CommandVsSlowMail", "command_timeout", "MAIL", true},
                                           CrossCase{"MailVsSlowRcpt", "mail_timeout", "RCPT", true},
                                           CrossCase{"RcptVsSlowMail", "rcpt_timeout", "MAIL", true},
                                           CrossCase{"RcptVsSlowMailNoPipelining", "rcpt_timeout", "MAIL", false},
                                           CrossCase{"DataVsSlowDataEnd", "data_timeout", "DATA-END", true},
                                           CrossCase{"DataVsSlowRcpt", "data_timeout", "RCPT", true},
                                           CrossCase{"DataEndVsSlowData", "data_end_timeout", "DATA", true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringpost::faults
