// ClientSession behaviour that is about the API contract rather than a conversation (those are
// the golden transcripts in transcript_test.cc).
#include "smtp/client_session.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ringpost::smtp {
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

// Random server behaviour, random chunking, random driver calls. Whatever happens: every
// submitted envelope gets exactly one result of the right size, and a recipient is delivered
// only if its message body actually went out on the wire.
TEST(ClientSession, RandomConversationsKeepTheInvariants) {
  const std::vector<std::string> replies = {
      "220 mx\r\n", "250 ok\r\n", "250-mx\r\n250 PIPELINING\r\n", "354 go\r\n", "450 4.0.0 later\r\n",
      "550 5.0.0 no\r\n", "421 bye\r\n", "221 bye\r\n", "502 what\r\n", "garbage\r\n", "250-partial",
  };
  std::mt19937 rng(4242);
  for (int run = 0; run < 3000; ++run) {
    ClientSession s(SessionConfig{"mta.example.test"});
    std::string wire;
    std::map<uint64_t, std::size_t> submitted;  // tag -> recipient count
    std::vector<TransactionResult> results;
    uint64_t next_tag = 1;
    auto pump = [&] {
      wire += drain(s);
      for (auto& r : s.take_results()) results.push_back(std::move(r));
    };
    for (int step = 0; step < 40 && !s.wants_close(); ++step) {
      if (s.ready() && rng() % 2 == 0) {
        std::vector<std::string> rcpts;
        for (unsigned i = rng() % 4; i > 0; --i) rcpts.push_back(rng() % 8 == 0 ? "bad\r\n@x" : "r" + std::to_string(i) + "@d.test");
        const uint64_t tag = next_tag++;
        submitted[tag] = rcpts.size();
        s.submit(envelope(tag, rcpts, "Subject: message " + std::to_string(tag) + "\r\n"));
      } else if (rng() % 25 == 0) {
        s.quit();
      } else if (rng() % 40 == 0) {
        s.on_timeout();
      } else {
        // Mostly a cooperative server (so deep states are reached), sometimes anything.
        std::string good;
        switch (s.awaiting()) {
          case Phase::greeting: good = "220 mx\r\n"; break;
          case Phase::ehlo: good = rng() % 2 ? "250-mx\r\n250 PIPELINING\r\n" : "250 mx\r\n"; break;
          case Phase::data: good = "354 go\r\n"; break;
          case Phase::quit: good = "221 bye\r\n"; break;
          default: good = "250 ok\r\n"; break;
        }
        const std::string& r = rng() % 5 != 0 ? good : replies[rng() % replies.size()];
        std::size_t pos = 0;
        while (pos < r.size()) {
          const std::size_t n = 1 + rng() % r.size();
          s.on_bytes(std::string_view(r).substr(pos, n));
          pos += n;
        }
      }
      pump();
    }
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
        EXPECT_NE(wire.find("Subject: message " + std::to_string(tr.tag) + "\r\n.\r\n"), std::string::npos)
            << "run " << run << ": delivered without sending the body";
      }
    }
    EXPECT_EQ(wire.find("bad\r\n"), std::string::npos) << "run " << run;
  }
}

}  // namespace
}  // namespace ringpost::smtp
