// Per-recipient outcomes against a scripted SMTP server: a 451 defers and is retried on the
// schedule, a 550 bounces at once and is never retried.
#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/scripted_smtp.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

// recipients[index] of GET /v1/messages/{id}, parsed (history and classification are not in the
// typed RecipientStatus).
struct Raw {
  simdjson::dom::parser parser;
  simdjson::dom::element recipient;
};
::testing::AssertionResult raw_recipient(RingpostApi& api, const std::string& id, std::size_t index, Raw& out) {
  auto r = api.http().get("/v1/messages/" + id);
  if (!r) return ::testing::AssertionFailure() << r.error();
  simdjson::dom::element root;
  if (out.parser.parse(r->body).get(root) || root["recipients"].at(index).get(out.recipient))
    return ::testing::AssertionFailure() << "unexpected status body: " << r->body;
  return ::testing::AssertionSuccess();
}

using namespace std::chrono_literals;

class Retry : public ServerTest {};
class Bounce : public ServerTest {};

TEST_F(Retry, TempFailThenDelivered) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  auto smtp = ScriptedSmtp::start(dir_ / "scripted", (*ports)[1], {"tempfail-first", "1"});
  ASSERT_TRUE(smtp) << smtp.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  // A 2 s retry leaves a comfortable window to observe "deferred" by polling.
  cfg.retry = {"2s"};
  cfg.domains = {{"retry.test", fmt::format("127.0.0.1:{}", smtp->port())}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());

  const std::vector<std::string> rcpts = {"a@retry.test", "b@retry.test"};
  auto id = api.submit({"sender@example.test", rcpts, "retry me", "hello"});
  ASSERT_TRUE(id) << id.error();

  // Phase 1: each recipient is seen deferred with the 451 before anything is delivered.
  std::vector<bool> saw_deferred(rcpts.size(), false);
  std::vector<RecipientStatus> first_deferred(rcpts.size());
  std::string history, last;
  bool early_final = false;
  bool deferred = wait_until(20s, 25ms, [&] {
    auto st = api.status(*id);
    if (!st) {
      last = st.error();
      return false;
    }
    if (auto s = summarize(*st); s != last) history += "\n  " + (last = s);
    if (st->recipients.size() != rcpts.size()) return false;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      const auto& r = st->recipients[i];
      if (r.state == "deferred" && r.last_reply && r.last_reply->code == 451 && !saw_deferred[i]) {
        saw_deferred[i] = true;
        first_deferred[i] = r;
      }
      if (r.state != "queued" && r.state != "deferred" && !saw_deferred[i]) early_final = true;
    }
    return early_final || std::all_of(saw_deferred.begin(), saw_deferred.end(), [](bool b) { return b; });
  });
  ASSERT_TRUE(deferred && !early_final) << "never saw every recipient deferred/451 first; states seen:" << history;
  for (const auto& r : first_deferred) {
    EXPECT_EQ(r.attempts, 1) << r.address << " when first deferred";
    EXPECT_EQ(r.last_reply->enhanced, "4.7.1") << r.address << " when first deferred";
  }

  // Phase 2: the retry succeeds.
  MessageStatus final_status;
  bool delivered = wait_until(30s, 100ms, [&] {
    auto st = api.status(*id);
    if (!st) return false;
    if (auto s = summarize(*st); s != last) history += "\n  " + (last = s);
    final_status = *st;
    return std::all_of(st->recipients.begin(), st->recipients.end(),
                       [](const RecipientStatus& r) { return r.state != "queued" && r.state != "deferred"; });
  });
  ASSERT_TRUE(delivered) << "not final 30 s after the deferral; states seen:" << history;
  for (const auto& r : final_status.recipients) {
    EXPECT_EQ(r.state, "delivered") << summarize(final_status);
    EXPECT_EQ(r.attempts, 2) << summarize(final_status);
    ASSERT_TRUE(r.last_reply) << summarize(final_status);
    EXPECT_EQ(r.last_reply->code, 250) << summarize(final_status);
  }

  // The status keeps each attempt: the 451 deferral and then the delivery, with the host.
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    Raw raw;
    ASSERT_TRUE(raw_recipient(api, *id, i, raw));
    simdjson::dom::array history;
    ASSERT_FALSE(raw.recipient["history"].get(history)) << simdjson::to_string(raw.recipient);
    ASSERT_EQ(history.size(), 2u) << simdjson::to_string(raw.recipient);
    std::string_view state, host;
    int64_t code = 0;
    ASSERT_FALSE(history.at(0)["state"].get(state) || history.at(0)["reply"]["code"].get(code) ||
                 history.at(0)["host"].get(host));
    EXPECT_EQ(state, "deferred");
    EXPECT_EQ(code, 451);
    EXPECT_NE(host.find(std::to_string(smtp->port())), std::string_view::npos) << host;
    ASSERT_FALSE(history.at(1)["state"].get(state) || history.at(1)["reply"]["code"].get(code));
    EXPECT_EQ(state, "delivered");
    EXPECT_EQ(code, 250);
    EXPECT_TRUE(raw.recipient["classification"].error()) << "a delivered recipient has no failure class";
  }

  // Far side: two RCPT attempts per recipient, and one accepted copy for each.
  auto log = smtp->log();
  ASSERT_TRUE(log) << log.error();
  for (const auto& r : rcpts) {
    EXPECT_EQ(log->rcpt_attempts(r), 2) << r;
    int copies = 0;
    for (const auto& m : log->messages) copies += std::count(m.rcpt_tos.begin(), m.rcpt_tos.end(), r);
    EXPECT_EQ(copies, 1) << r;
  }
  for (const auto& m : log->messages) {
    EXPECT_EQ(m.mail_from, "sender@example.test");
    EXPECT_EQ(m.subject, "retry me");
  }
}

TEST_F(Bounce, PermanentFailureBounces) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  auto smtp = ScriptedSmtp::start(dir_ / "scripted", (*ports)[1], {"reject"});
  ASSERT_TRUE(smtp) << smtp.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1s"};
  cfg.domains = {{"bounce.test", fmt::format("127.0.0.1:{}", smtp->port())}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());

  auto id = api.submit({"sender@example.test", {"nobody@bounce.test"}, "bounce me", "hello"});
  ASSERT_TRUE(id) << id.error();

  MessageStatus st;
  std::string history, last;
  bool final = wait_until(20s, 50ms, [&] {
    auto s = api.status(*id);
    if (!s) return false;
    if (auto line = summarize(*s); line != last) history += "\n  " + (last = line);
    st = *s;
    return s->recipients.size() == 1 && s->recipients[0].state != "queued" && s->recipients[0].state != "deferred";
  });
  ASSERT_TRUE(final) << "not final within 20 s; states seen:" << history;
  const auto& r = st.recipients[0];
  EXPECT_EQ(r.state, "bounced") << history;
  EXPECT_EQ(r.attempts, 1) << history;
  ASSERT_TRUE(r.last_reply) << history;
  EXPECT_EQ(r.last_reply->code, 550);
  EXPECT_EQ(r.last_reply->enhanced, "5.1.1");
  Raw raw;
  ASSERT_TRUE(raw_recipient(api, *id, 0, raw));
  std::string_view cls;
  ASSERT_FALSE(raw.recipient["classification"].get(cls)) << simdjson::to_string(raw.recipient);
  EXPECT_EQ(cls, "unknown_user") << "550 5.1.1 is an unknown user, so an agent can drop the address";

  // The attempt as the server logged it (each RCPT before its reply). That no second RCPT
  // follows is not waited for here (no barrier orders a wrongful retry on a timer): the shard's
  // clock is moved across the whole retry schedule in tests/delivery
  // (ShardPermanentFailure.Rcpt550BouncesAfterOneAttemptAndNeverRetries).
  auto log = smtp->log();
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(log->rcpt_attempts("nobody@bounce.test"), 1) << "RCPT attempts seen by the scripted server";
  EXPECT_TRUE(log->messages.empty());
  auto stats = api.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->bounced, 1);
}

}  // namespace
}  // namespace ringpost::it
