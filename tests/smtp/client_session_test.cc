// ClientSession behaviour that is about the API contract rather than a conversation (those are
// the golden transcripts in transcript_test.cc).
#include "smtp/client_session.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "smtp/dot_stuffer.h"

namespace ringpost::smtp {

// Readable failure messages for EXPECT_EQ on replies (found by ADL, so not in the anonymous
// namespace; no other test file defines it).
void PrintTo(const Reply& r, std::ostream* os) { *os << r.code << ' ' << r.enhanced << " '" << r.text << "'"; }

namespace {

std::string drain(ClientSession& s) {
  std::string out(s.pending_output());
  s.consume_output(out.size());
  return out;
}

Envelope envelope(uint64_t tag, std::vector<std::string> rcpts, std::string body = "Subject: x\r\n\r\nhi\r\n") {
  Envelope e;
  e.tag = tag;
  e.from = "a@example.test";
  e.recipients = std::move(rcpts);
  e.body = std::make_shared<const std::string>(std::move(body));
  return e;
}

// A session past EHLO; `extensions` are the EHLO lines after the first.
ClientSession ready_session(const std::string& extensions = "250-PIPELINING\r\n") {
  ClientSession s(SessionConfig{"mta.example.test"});
  s.on_bytes("220 mx ESMTP\r\n");
  EXPECT_EQ(drain(s), "EHLO mta.example.test\r\n");
  s.on_bytes("250-mx\r\n" + extensions + "250 8BITMIME\r\n");
  EXPECT_TRUE(s.ready());
  return s;
}

TEST(ClientSession, WritesNothingBeforeTheGreeting) {
  ClientSession s(SessionConfig{"mta.example.test"});
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_EQ(s.state(), SessionState::greeting);
  EXPECT_EQ(s.awaiting(), Phase::greeting);
  EXPECT_FALSE(s.ready());
  EXPECT_FALSE(s.wants_close());
}

TEST(ClientSession, InvalidEhloNameFailsAtOnce) {
  for (const char* name : {"", "bad\r\nRSET", "has space"}) {
    ClientSession s(SessionConfig{name});
    EXPECT_EQ(s.state(), SessionState::failed) << name;
    EXPECT_TRUE(s.wants_close());
    EXPECT_EQ(s.failure_reply().code, 451);
    EXPECT_EQ(s.failure_reply().enhanced, "4.3.5");
    s.on_bytes("220 mx ESMTP\r\n");
    EXPECT_EQ(s.pending_output(), "") << "must never write an invalid EHLO";
  }
}

TEST(ClientSession, CapabilitiesComeFromEhlo) {
  ClientSession s = ready_session("250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n");
  EXPECT_TRUE(s.capabilities().pipelining);
  EXPECT_TRUE(s.capabilities().starttls);
  EXPECT_TRUE(s.capabilities().eightbitmime);
  EXPECT_EQ(s.capabilities().size, std::optional<std::size_t>(1000));
  EXPECT_FALSE(s.capabilities().chunking);
}

TEST(ClientSession, SubmitBeforeReadyDefersWithoutWriting) {
  ClientSession s(SessionConfig{"mta.example.test"});
  s.submit(envelope(5, {"b@dest.test", "c@dest.test"}));
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_EQ(s.state(), SessionState::greeting);
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].tag, 5u);
  ASSERT_EQ(results[0].recipients.size(), 2u);
  for (const auto& r : results[0].recipients) {
    EXPECT_EQ(r.outcome, Outcome::deferred);
    EXPECT_EQ(r.reply.code, 451);
  }
}

TEST(ClientSession, SubmitDuringATransactionLeavesItIntact) {
  ClientSession s = ready_session();
  s.submit(envelope(1, {"b@dest.test"}));
  drain(s);
  s.submit(envelope(2, {"c@dest.test"}));  // driver bug: not ready
  EXPECT_EQ(s.pending_output(), "");
  auto early = s.take_results();
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].tag, 2u);
  EXPECT_EQ(early[0].recipients[0].outcome, Outcome::deferred);

  s.on_bytes("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(drain(s), "Subject: x\r\n\r\nhi\r\n.\r\n");
  s.on_bytes("250 ok\r\n");
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].tag, 1u);
  EXPECT_EQ(results[0].recipients[0].outcome, Outcome::delivered);
}

TEST(ClientSession, EmptyRecipientListCompletesLocally) {
  ClientSession s = ready_session();
  s.submit(envelope(3, {}));
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_TRUE(s.ready());
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].tag, 3u);
  EXPECT_TRUE(results[0].recipients.empty());
  EXPECT_EQ(s.transactions_completed(), 0u);
}

TEST(ClientSession, NullBodyIsAnEmptyMessage) {
  ClientSession s = ready_session();
  Envelope e = envelope(1, {"b@dest.test"});
  e.body = nullptr;
  s.submit(std::move(e));
  drain(s);
  s.on_bytes("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(drain(s), ".\r\n");
}

TEST(ClientSession, QuitBeforeReadyClosesWithoutWriting) {
  ClientSession s(SessionConfig{"mta.example.test"});
  s.on_bytes("220 mx\r\n");
  s.quit();
  EXPECT_EQ(s.pending_output(), "") << "the unwritten EHLO is dropped";
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_TRUE(s.wants_close());
}

TEST(ClientSession, ClosedWhileIdleIsACleanEnd) {
  ClientSession s = ready_session();
  s.on_closed();
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_TRUE(s.wants_close());
  EXPECT_EQ(s.failure_reply().code, 0);
  EXPECT_TRUE(s.take_results().empty());
}

TEST(ClientSession, TimeoutWaitingForGreeting) {
  ClientSession s(SessionConfig{"mta.example.test"});
  s.on_timeout();
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_TRUE(s.wants_close());
  EXPECT_EQ(s.failure_reply(), (Reply{451, "4.4.2", "timeout waiting for greeting reply"}));
  EXPECT_EQ(s.pending_output(), "");
}

TEST(ClientSession, ClosedWhileResettingFailsWithoutResults) {
  ClientSession s = ready_session();
  s.submit(envelope(1, {"b@dest.test"}));
  drain(s);
  s.on_bytes("250 ok\r\n550 no\r\n554 no valid recipients\r\n");
  EXPECT_EQ(drain(s), "RSET\r\n");
  ASSERT_EQ(s.take_results().size(), 1u);
  s.on_closed();
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_EQ(s.failure_reply(), (Reply{451, "4.4.2", "connection lost waiting for RSET reply"}));
  EXPECT_TRUE(s.take_results().empty());
}

TEST(ClientSession, RsetRefusedFailsTheSession) {
  ClientSession s = ready_session();
  s.submit(envelope(1, {"b@dest.test"}));
  drain(s);
  s.on_bytes("250 ok\r\n550 no\r\n554 no valid recipients\r\n");
  EXPECT_EQ(drain(s), "RSET\r\n");
  s.on_bytes("500 what\r\n");
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_TRUE(s.wants_close());
  EXPECT_EQ(s.failure_reply().code, 500);
  EXPECT_EQ(drain(s), "QUIT\r\n");
}

TEST(ClientSession, OutputCanBeWrittenInPieces) {
  ClientSession s = ready_session();
  s.submit(envelope(1, {"b@dest.test", "c@dest.test"}));
  const std::string expected = "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@dest.test>\r\nRCPT TO:<c@dest.test>\r\nDATA\r\n";
  std::string written;
  while (!s.pending_output().empty()) {
    written += s.pending_output().substr(0, 3);
    s.consume_output(std::min<std::size_t>(3, s.pending_output().size()));
  }
  EXPECT_EQ(written, expected);
  // Replies that arrive while the body is half written only append after the unwritten part.
  s.on_bytes("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  s.consume_output(5);
  EXPECT_EQ(s.pending_output(), "ct: x\r\n\r\nhi\r\n.\r\n");
}

TEST(ClientSession, LargeBodyDrainedSlowlyStaysIntact) {
  ClientSession s = ready_session();
  std::string body;
  for (int i = 0; i < 20000; ++i) body += "line " + std::to_string(i) + "\r\n";
  s.submit(envelope(1, {"b@dest.test"}, body));
  drain(s);
  s.on_bytes("250 ok\r\n250 ok\r\n354 go\r\n");
  std::string written;
  while (!s.pending_output().empty()) {
    const std::size_t n = std::min<std::size_t>(1000, s.pending_output().size());
    written += s.pending_output().substr(0, n);
    s.consume_output(n);
  }
  EXPECT_EQ(written, body + ".\r\n");
}

TEST(ClientSession, OutcomeNamesForLogs) {
  EXPECT_EQ(to_string(Outcome::delivered), "delivered");
  EXPECT_EQ(to_string(SessionState::in_transaction), "in_transaction");
  EXPECT_EQ(to_string(Phase::data_end), "end of data");
}

// The connection drops after every possible prefix of the server's side of a pipelined
// transaction. Whatever the cut, each recipient gets exactly one outcome, and "delivered"
// only once the whole final reply has arrived.
TEST(ClientSession, CutAtEveryByteNeverDeliversEarly) {
  const std::string greeting = "220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n";
  const std::string tx = "250 ok\r\n250 ok\r\n450 later\r\n354 go\r\n250 2.0.0 queued\r\n";
  const std::string server = greeting + tx;
  for (std::size_t cut = 0; cut <= server.size(); ++cut) {
    ClientSession s(SessionConfig{"mta.example.test"});
    bool submitted = false;
    for (std::size_t i = 0; i < cut; ++i) {
      s.on_bytes(std::string_view(server).substr(i, 1));
      drain(s);
      if (!submitted && s.ready()) {
        s.submit(envelope(1, {"b@dest.test", "c@dest.test"}));
        drain(s);
        submitted = true;
      }
    }
    if (cut < server.size()) s.on_closed();
    auto results = s.take_results();
    if (!submitted) {
      EXPECT_TRUE(results.empty()) << "cut " << cut;
      continue;
    }
    ASSERT_EQ(results.size(), 1u) << "cut " << cut;
    ASSERT_EQ(results[0].recipients.size(), 2u);
    const auto& b = results[0].recipients[0];
    const auto& c = results[0].recipients[1];
    if (cut == server.size()) {
      EXPECT_EQ(b.outcome, Outcome::delivered);
      EXPECT_EQ(b.reply, (Reply{250, "2.0.0", "queued"}));
    } else {
      EXPECT_EQ(b.outcome, Outcome::deferred) << "cut " << cut;
      EXPECT_EQ(b.reply.code, 451) << "cut " << cut;
      EXPECT_EQ(b.reply.enhanced, "4.4.2");
    }
    // c was refused with 450 once that reply is complete; before that the cut defers it.
    EXPECT_EQ(c.outcome, Outcome::deferred) << "cut " << cut;
  }
}

// ---- extensions -------------------------------------------------------------------------------

ClientSession tls_session(TlsMode mode, const std::string& ehlo_lines = "250 STARTTLS\r\n") {
  SessionConfig cfg{"mta.example.test"};
  cfg.tls = mode;
  ClientSession s(cfg);
  s.on_bytes("220 mx.dest.test ESMTP\r\n");
  EXPECT_EQ(drain(s), "EHLO mta.example.test\r\n");
  s.on_bytes("250-mx.dest.test\r\n" + ehlo_lines);
  return s;
}

// A session waiting for the TLS handshake.
ClientSession handshaking_session() {
  ClientSession s = tls_session(TlsMode::opportunistic);
  EXPECT_EQ(drain(s), "STARTTLS\r\n");
  s.on_bytes("220 go ahead\r\n");
  EXPECT_TRUE(s.wants_tls());
  return s;
}

TEST(ClientSession, DefaultTimeoutsFollowRfc5321) {
  using std::chrono::minutes;
  EXPECT_EQ(default_timeout(Phase::greeting), minutes(5));
  EXPECT_EQ(default_timeout(Phase::mail), minutes(5));
  EXPECT_EQ(default_timeout(Phase::rcpt), minutes(5));
  EXPECT_EQ(default_timeout(Phase::data), minutes(2));
  EXPECT_EQ(default_timeout(Phase::data_end), minutes(10));
  EXPECT_EQ(default_timeout(Phase::bdat), minutes(10));
  EXPECT_EQ(default_timeout(Phase::starttls), minutes(5));
  EXPECT_EQ(default_timeout(Phase::none), std::chrono::seconds(0));
  EXPECT_EQ(kDataBlockTimeout, minutes(3));
  EXPECT_EQ(to_string(Phase::bdat), "BDAT");
  EXPECT_EQ(to_string(Phase::starttls), "STARTTLS");
  EXPECT_EQ(to_string(SessionState::tls_handshake), "tls_handshake");
}

TEST(ClientSession, ReplyBeforeItsCommandWasWrittenFails) {
  // The driver has not written MAIL yet; a "reply" to it cannot be one.
  ClientSession s = ready_session();
  s.submit(envelope(1, {"b@dest.test"}));
  s.consume_output(10);
  s.on_bytes("250 ok\r\n");
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_EQ(s.failure_reply(), (Reply{451, "4.5.0", "protocol error: reply 250 to MAIL arrived before the command was sent"}));
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].outcome, Outcome::deferred);
  EXPECT_EQ(s.pending_output(), "") << "the unwritten rest must not go out";
}

TEST(ClientSession, EarlyFinalReplyToBdatNeverDelivers) {
  // A 250 for BDAT while its content is still queued (found by the fuzz test): not delivered.
  ClientSession s = ready_session("250-PIPELINING\r\n250-CHUNKING\r\n");
  s.submit(envelope(1, {"b@dest.test"}));
  const std::string out(s.pending_output());
  const std::size_t content = out.find("LAST\r\n") + 6;
  s.consume_output(content);  // commands written, content not yet
  s.on_bytes("250 ok\r\n250 ok\r\n250 ok\r\n");
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].outcome, Outcome::deferred);
  EXPECT_EQ(s.state(), SessionState::failed);
}

TEST(ClientSession, StarttlsReplySentWithTheEhloReplyFails) {
  // The 220 arrives in the same read as the EHLO reply, before STARTTLS was written.
  SessionConfig cfg{"mta.example.test"};
  cfg.tls = TlsMode::required;
  ClientSession s(cfg);
  s.on_bytes("220 mx ESMTP\r\n");
  drain(s);
  s.on_bytes("250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n");
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_FALSE(s.wants_tls());
  EXPECT_EQ(s.failure_reply().text, "protocol error: reply 220 to STARTTLS arrived before the command was sent");
  EXPECT_EQ(s.pending_output(), "");
}

TEST(ClientSession, InjectedBytesAfterStarttlsAreCountedAndDiscarded) {
  ClientSession s = tls_session(TlsMode::opportunistic);
  drain(s);
  s.on_bytes("220 go\r\n250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_EQ(s.failure_reply(), (Reply{451, "4.7.0",
                                      "24 bytes of plain text followed the 220 reply to STARTTLS (response "
                                      "injection?); discarded"}));
  EXPECT_TRUE(s.wants_close());
  EXPECT_EQ(s.pending_output(), "") << "not even QUIT: the channel is compromised";
  s.on_tls_ready();  // a driver that started the handshake anyway gets nothing back
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_EQ(s.pending_output(), "");
}

TEST(ClientSession, TlsCallbacksAreIgnoredOutsideTheHandshake) {
  ClientSession s = ready_session();
  s.on_tls_ready();
  s.on_tls_failed("nope");
  EXPECT_EQ(s.state(), SessionState::ready);
  EXPECT_FALSE(s.tls_active());
  EXPECT_EQ(s.pending_output(), "");
}

TEST(ClientSession, NoStarttlsWhenTlsIsOff) {
  ClientSession s = tls_session(TlsMode::off);
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_TRUE(s.ready());
  EXPECT_TRUE(s.capabilities().starttls);
}

TEST(ClientSession, HandshakeFailureIsTransient) {
  ClientSession s = handshaking_session();
  s.on_tls_failed("sslv3 alert handshake failure");
  EXPECT_EQ(s.failure_reply(), (Reply{451, "4.7.5", "TLS handshake failed: sslv3 alert handshake failure"}));
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_TRUE(s.wants_close());
}

TEST(ClientSession, TimeoutAndCloseDuringTheHandshake) {
  ClientSession a = handshaking_session();
  EXPECT_EQ(a.awaiting(), Phase::starttls);
  a.on_timeout();
  EXPECT_EQ(a.failure_reply(), (Reply{451, "4.4.2", "timeout during the TLS handshake"}));
  ClientSession b = handshaking_session();
  b.on_closed();
  EXPECT_EQ(b.failure_reply(), (Reply{451, "4.4.2", "connection lost during the TLS handshake"}));
}

TEST(ClientSession, QuitDuringTheHandshakeClosesWithoutWriting) {
  ClientSession s = handshaking_session();
  s.quit();
  EXPECT_EQ(s.state(), SessionState::closed);
  EXPECT_TRUE(s.wants_close());
  EXPECT_FALSE(s.wants_tls());
  EXPECT_EQ(s.pending_output(), "");
}

TEST(ClientSession, SubmitDuringTheHandshakeDefers) {
  ClientSession s = handshaking_session();
  s.submit(envelope(1, {"b@dest.test"}));
  EXPECT_EQ(s.pending_output(), "");
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].outcome, Outcome::deferred);
  EXPECT_TRUE(s.wants_tls());
}

TEST(ClientSession, RequiredTlsAndRefusedEhloFailsWithoutHelo) {
  SessionConfig cfg{"mta.example.test"};
  cfg.tls = TlsMode::required;
  ClientSession s(cfg);
  s.on_bytes("220 old.dest.test SMTP\r\n");
  drain(s);
  s.on_bytes("502 what\r\n");
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_EQ(s.failure_reply(),
            (Reply{451, "4.7.5", "TLS required but old.dest.test does not offer STARTTLS (EHLO refused: 502 what)"}));
  EXPECT_EQ(drain(s), "QUIT\r\n");
}

TEST(ClientSession, OpportunisticTlsAndRefusedEhloFallsBackToHelo) {
  SessionConfig cfg{"mta.example.test"};
  cfg.tls = TlsMode::opportunistic;
  ClientSession s(cfg);
  s.on_bytes("220 old.dest.test SMTP\r\n");
  drain(s);
  s.on_bytes("502 what\r\n");
  EXPECT_EQ(drain(s), "HELO mta.example.test\r\n");
  s.on_bytes("250 old.dest.test\r\n");
  EXPECT_TRUE(s.ready());
  EXPECT_FALSE(s.tls_active());
}

TEST(ClientSession, UnexpectedPositiveReplyToStarttlsIsAProtocolError) {
  // Neither plain text nor TLS can follow safely: the server may be waiting for a handshake.
  for (TlsMode mode : {TlsMode::opportunistic, TlsMode::required}) {
    ClientSession s = tls_session(mode);
    drain(s);
    s.on_bytes("250 ok\r\n");
    EXPECT_EQ(s.state(), SessionState::failed);
    EXPECT_EQ(s.failure_reply().enhanced, "4.5.0");
    EXPECT_FALSE(s.wants_tls());
  }
}

TEST(ClientSession, RefusedStarttlsUnderRequiredTlsKeepsA4xx) {
  ClientSession s = tls_session(TlsMode::required);
  drain(s);
  s.on_bytes("454 4.7.0 TLS not available\r\n");
  EXPECT_EQ(s.failure_reply(),
            (Reply{454, "4.7.5", "TLS required but mx.dest.test refused STARTTLS: 454 TLS not available"}));
}

TEST(ClientSession, FailedSessionNeverBecomesReadyAgain) {
  ClientSession s = ready_session();
  s.on_bytes("garbage\r\n");
  ASSERT_EQ(s.state(), SessionState::failed);
  s.on_bytes("220 mx\r\n250 ok\r\n");
  s.on_tls_ready();
  s.quit();
  s.on_closed();
  s.on_timeout();
  s.submit(envelope(1, {"b@dest.test"}));
  EXPECT_EQ(s.state(), SessionState::failed);
  EXPECT_FALSE(s.ready());
  EXPECT_EQ(s.take_results().size(), 1u);  // the submit, deferred
}

TEST(ClientSession, AddressesMustFitA512OctetCommandLine) {
  ClientSession s = ready_session();
  const std::string fits = std::string(490, 'l') + "@dest.test";  // RCPT TO:<...>CRLF = 512
  const std::string too_long = "x" + fits;
  ASSERT_EQ(fits.size(), 500u);
  s.submit(envelope(1, {too_long, fits}));
  EXPECT_NE(drain(s).find("RCPT TO:<" + fits + ">\r\n"), std::string::npos);
  s.on_bytes("250 ok\r\n250 ok\r\n354 go\r\n");
  drain(s);
  s.on_bytes("250 ok\r\n");
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].outcome, Outcome::bounced);
  EXPECT_EQ(results[0].recipients[0].reply,
            (Reply{501, "5.1.3", "recipient address too long: RCPT would be 513 octets; SMTP allows 512"}));
  EXPECT_EQ(results[0].recipients[1].outcome, Outcome::delivered);

  Envelope e = envelope(2, {"b@dest.test"});
  e.from = std::string(499, 's');  // MAIL FROM:<...>CRLF = 513
  s.submit(std::move(e));
  EXPECT_EQ(s.pending_output(), "");
  results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].reply,
            (Reply{501, "5.1.7", "sender address too long: MAIL would be 513 octets; SMTP allows 512"}));
  EXPECT_TRUE(s.ready());
}

TEST(ClientSession, SizeWithoutALimitIsDeclaredButNeverRefuses) {
  ClientSession s = ready_session("250-PIPELINING\r\n250-SIZE 0\r\n");
  std::string body;
  for (int i = 0; i < 1000; ++i) body += std::string(98, 'x') + "\r\n";
  s.submit(envelope(1, {"b@dest.test"}, body));
  EXPECT_EQ(drain(s).substr(0, 41), "MAIL FROM:<a@example.test> SIZE=100000\r\nR");
}

TEST(ClientSession, LocalRefusalsAreChecksInScopeOrder) {
  // A bad recipient keeps its own 501; the long line then refuses the rest of the message.
  ClientSession s = ready_session("250-PIPELINING\r\n250-SIZE 10\r\n");
  s.submit(envelope(1, {"bad\r\n@x", "j\xc3\xb6rg@dest.test"}, std::string(1000, 'x')));
  auto results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].reply.code, 501);
  EXPECT_EQ(results[0].recipients[1].reply.code, 554);
  // Without the long line: SMTPUTF8 (553) before SIZE (552).
  s.submit(envelope(2, {"j\xc3\xb6rg@dest.test"}, std::string(100, 'x')));
  results = s.take_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].recipients[0].reply.code, 553);
  EXPECT_EQ(s.pending_output(), "");
  EXPECT_EQ(s.transactions_completed(), 0u);
}

// Whatever the body, BDAT announces exactly the number of octets that follow it, and they are
// the body with repaired line ends: no stuffing, no terminator.
TEST(ClientSession, BdatCountMatchesTheContent) {
  std::mt19937 rng(31337);
  const char alphabet[] = {'.', 'a', '\r', '\n', '\xe9', ' '};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string body;
    for (int n = static_cast<int>(rng() % 64); n > 0; --n) body += alphabet[rng() % sizeof(alphabet)];
    // SMTPUTF8 offered: a random body can have 8-bit octets before an empty line, which reads
    // as a UTF-8 header section (RFC 6532) and would otherwise be refused with 5.6.7.
    ClientSession s = ready_session("250-PIPELINING\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n");
    s.submit(envelope(1, {"b@dest.test"}, body));
    const std::string out = drain(s);
    const std::size_t bdat = out.find("BDAT ");
    ASSERT_NE(bdat, std::string::npos);
    const std::size_t eol = out.find("\r\n", bdat);
    ASSERT_EQ(out.compare(eol - 5, 5, " LAST"), 0);
    const std::size_t n = std::stoul(out.substr(bdat + 5, eol - 5 - bdat - 5));
    const std::string content = out.substr(eol + 2);
    ASSERT_EQ(content.size(), n) << testing::PrintToString(body);
    for (std::size_t i = 0; i < content.size(); ++i) {
      if (content[i] == '\n') {
        ASSERT_TRUE(i > 0 && content[i - 1] == '\r');
      }
      if (content[i] == '\r') {
        ASSERT_TRUE(i + 1 < content.size() && content[i + 1] == '\n');
      }
    }
    if (!body.empty()) {
      ASSERT_EQ(content.substr(content.size() - 2), "\r\n");
    }
    ASSERT_EQ(std::count(content.begin(), content.end(), '.'), std::count(body.begin(), body.end(), '.'));
  }
}

bool tls_ready_then_mail(const std::string& wire) {
  const std::size_t tls = wire.find("STARTTLS\r\nEHLO");
  return tls != std::string::npos && wire.find("MAIL FROM", tls) != std::string::npos;
}

// Random server behaviour, random chunking, random driver calls, random extensions and TLS
// policy. Whatever happens: every submitted envelope gets exactly one result of the right size;
// a recipient is delivered only by a 2xx reply to the end of data or BDAT LAST, after its
// content went out; nothing written while the session waits for TLS; no CR/LF or parameter
// injection from the envelope; a failed or closed session stays so.
TEST(ClientSession, RandomConversationsKeepTheInvariants) {
  const std::vector<std::string> replies = {
      "220 mx\r\n", "250 ok\r\n", "250-mx\r\n250 PIPELINING\r\n", "354 go\r\n", "450 4.0.0 later\r\n",
      "550 5.0.0 no\r\n", "421 bye\r\n", "221 bye\r\n", "502 what\r\n", "garbage\r\n", "250-partial",
      "454 4.7.0 no TLS\r\n", "220 go\r\n",
  };
  const std::vector<std::string> ehlo_extensions = {
      "PIPELINING", "CHUNKING", "STARTTLS", "SIZE 60", "SIZE 100000", "8BITMIME", "SMTPUTF8", "DSN",
  };
  std::mt19937 rng(4242);
  // How often each new path was reached: a random test that never gets there proves nothing.
  std::map<std::string, int> reached;
  for (int run = 0; run < 3000; ++run) {
    SessionConfig cfg{"mta.example.test"};
    cfg.tls = static_cast<TlsMode>(rng() % 3);
    cfg.use_chunking = rng() % 4 != 0;
    ClientSession s(cfg);
    std::string wire;
    std::map<uint64_t, std::shared_ptr<const std::string>> bodies;
    std::map<uint64_t, std::size_t> submitted;  // tag -> recipient count
    std::vector<TransactionResult> results;
    uint64_t next_tag = 1;
    bool ended = false;
    Phase fed_phase = Phase::none;  // awaiting() before the last on_bytes()
    bool last_was_bytes = false;
    auto pump = [&] {
      if (s.wants_tls()) {
        ASSERT_EQ(s.pending_output(), "") << "run " << run << ": output while wanting TLS";
      }
      wire += drain(s);
      for (auto& r : s.take_results()) {
        for (const auto& rr : r.recipients) {
          if (rr.outcome != Outcome::delivered) continue;
          ASSERT_TRUE(last_was_bytes) << "run " << run << ": delivered without a reply";
          ASSERT_TRUE(fed_phase == Phase::data_end || fed_phase == Phase::bdat)
              << "run " << run << ": delivered by a reply to " << to_string(fed_phase);
          ++reached[fed_phase == Phase::bdat ? "delivered by BDAT" : "delivered by DATA"];
        }
        for (const auto& rr : r.recipients) {
          if (rr.reply.code == 552 || rr.reply.code == 553 || rr.reply.code == 554) ++reached[std::to_string(rr.reply.code)];
        }
        results.push_back(std::move(r));
      }
      const bool terminal = s.state() == SessionState::failed || s.state() == SessionState::closed;
      if (ended) {
        ASSERT_TRUE(terminal && !s.ready()) << "run " << run << ": came back to " << to_string(s.state());
      }
      ended = ended || terminal;
    };
    auto feed = [&](const std::string& r) {
      std::size_t pos = 0;
      while (pos < r.size()) {
        const std::size_t n = 1 + rng() % r.size();
        fed_phase = s.awaiting();
        last_was_bytes = true;
        s.on_bytes(std::string_view(r).substr(pos, n));
        pos += n;
        pump();
      }
    };
    for (int step = 0; step < 40 && !s.wants_close(); ++step) {
      last_was_bytes = false;
      if (s.wants_tls()) {
        const unsigned pick = rng() % 8;
        if (pick == 0) {
          s.on_tls_failed("random");
        } else if (pick == 1) {
          feed("250 injected\r\n");
          ASSERT_EQ(s.state(), SessionState::failed) << "run " << run << ": plain text accepted before TLS";
        } else {
          s.on_tls_ready();
          ++reached["TLS handshake"];
        }
      } else if (s.ready() && rng() % 2 == 0) {
        std::vector<std::string> rcpts;
        for (unsigned i = rng() % 4; i > 0; --i) {
          const unsigned kind = rng() % 10;
          rcpts.push_back(kind == 0 ? "bad\r\n@x" : kind == 1 ? "r\xc3\xa9" + std::to_string(i) + "@d.test" : "r" + std::to_string(i) + "@d.test");
        }
        const uint64_t tag = next_tag++;
        std::string body = "Subject: message " + std::to_string(tag) + "\r\n";
        const unsigned shape = rng() % 8;
        if (shape == 0) body += std::string(999, 'L') + "\r\n";
        if (shape == 1) body += std::string(80, 'B') + "\r\n";  // over SIZE 60
        if (shape == 2) body += "caf\xc3\xa9\r\n.dot\n";
        Envelope e = envelope(tag, rcpts, body);
        if (rng() % 3 == 0) e.dsn = Dsn{"FULL", "x\r\nRSET INJECTED", {"FAILURE,DELAY", "SUCCESS\r\nRSET INJECTED"}, {"o\r\nRSET INJECTED"}};
        submitted[tag] = rcpts.size();
        bodies[tag] = e.body;
        s.submit(std::move(e));
      } else if (rng() % 25 == 0) {
        s.quit();
      } else if (rng() % 40 == 0) {
        s.on_timeout();
      } else {
        // Mostly a cooperative server (so deep states are reached), sometimes anything.
        std::string good;
        switch (s.awaiting()) {
          case Phase::greeting: good = "220 mx\r\n"; break;
          case Phase::ehlo: {
            good = "250-mx\r\n";
            for (const std::string& ext : ehlo_extensions) {
              if (rng() % 2) good += "250-" + ext + "\r\n";
            }
            good += "250 HELP\r\n";
            break;
          }
          case Phase::starttls: good = rng() % 4 ? "220 go\r\n" : "454 4.7.0 not now\r\n"; break;
          case Phase::data: good = "354 go\r\n"; break;
          case Phase::quit: good = "221 bye\r\n"; break;
          default: good = "250 ok\r\n"; break;
        }
        feed(rng() % 5 != 0 ? good : replies[rng() % replies.size()]);
        continue;
      }
      pump();
    }
    last_was_bytes = false;
    s.on_closed();
    pump();
    ASSERT_EQ(results.size(), submitted.size()) << "run " << run;
    std::map<uint64_t, int> seen;
    for (const auto& tr : results) {
      ASSERT_EQ(++seen[tr.tag], 1) << "run " << run;
      ASSERT_EQ(tr.recipients.size(), submitted.at(tr.tag)) << "run " << run;
      for (const auto& rr : tr.recipients) {
        if (rr.outcome != Outcome::delivered) continue;
        EXPECT_TRUE(rr.reply.is_positive()) << "run " << run;
        const std::string& body = *bodies.at(tr.tag);
        std::string bdat;
        crlf_normalize_append(body, bdat);
        EXPECT_TRUE(wire.find(dot_stuff(body)) != std::string::npos ||
                    wire.find("BDAT " + std::to_string(bdat.size()) + " LAST\r\n" + bdat) != std::string::npos)
            << "run " << run << ": delivered without sending the body";
      }
    }
    EXPECT_EQ(wire.find("bad\r\n"), std::string::npos) << "run " << run;
    EXPECT_EQ(wire.find("RSET INJECTED"), std::string::npos) << "run " << run;
    if (wire.find(" SIZE=") != std::string::npos) ++reached["SIZE="];
    if (wire.find(" NOTIFY=") != std::string::npos) ++reached["NOTIFY="];
    if (wire.find(" SMTPUTF8") != std::string::npos) ++reached["SMTPUTF8"];
    if (tls_ready_then_mail(wire)) ++reached["mail after STARTTLS"];
  }
  for (const char* path : {"delivered by BDAT", "delivered by DATA", "TLS handshake", "mail after STARTTLS", "552",
                           "553", "554", "SIZE=", "NOTIFY=", "SMTPUTF8"}) {
    EXPECT_GT(reached[path], 10) << path;
  }
}

}  // namespace
}  // namespace ringpost::smtp
