// 10,000 messages through ringpost into Postfix smtp-sink, checked from the sink's side:
// every message arrived exactly once with its own content, over few SMTP sessions.
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class SinkDelivery : public ServerTest {};

std::string subject_of(const std::string& content) {
  auto at = content.find("Subject: ");
  if (at == std::string::npos) return {};
  auto eol = content.find('\n', at);
  return content.substr(at + 9, eol - at - 9);
}

TEST_F(SinkDelivery, TenThousandMessagesThroughSmtpSink) {
  constexpr int kBatches = 10, kPerBatch = 1000, kTotal = kBatches * kPerBatch;
  // One SMTP session should carry many messages: at most one session per 50 messages.
  constexpr int kMaxSessions = kTotal / 50;

  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  auto sink = SmtpSink::start(dir_ / "sink", (*ports)[1]);
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink->port())}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  std::map<std::string, std::string> subject_by_rcpt;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < kPerBatch; ++i) {
      int k = b * kPerBatch + i;
      auto rcpt = fmt::format("rcpt{}@sink.test", k);
      subject_by_rcpt[rcpt] = fmt::format("msg {}", k);
      batch.push_back({"sender@example.test", {rcpt}, fmt::format("msg {}", k), fmt::format("body of message {}", k)});
    }
    auto got = api.submit_batch(batch);
    ASSERT_TRUE(got) << "batch " << b << ": " << got.error();
    ASSERT_EQ(got->size(), std::size_t(kPerBatch)) << "batch " << b;
    ids.insert(ids.end(), got->begin(), got->end());
  }
  const auto submitted = std::chrono::steady_clock::now();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicate ids in 202 responses";

  // Wait until every recipient is final; stop early if some went final without delivery.
  Stats last;
  std::string last_error;
  bool final = wait_until(180s, 250ms, [&] {
    auto s = api.stats();
    if (!s) {
      last_error = s.error();
      return false;
    }
    last = *s;
    return s->delivered + s->bounced + s->expired >= kTotal;
  });
  const auto finished = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::fprintf(stderr, "[ringpost-it] submit %lld ms, delivery %lld ms; stats: delivered=%lld queued=%lld deferred=%lld "
               "bounced=%lld expired=%lld connections_opened=%lld transactions=%lld\n",
               (long long)ms(submitted - t0), (long long)ms(finished - submitted), (long long)last.delivered,
               (long long)last.queued, (long long)last.deferred, (long long)last.bounced, (long long)last.expired,
               (long long)last.connections_opened, (long long)last.transactions);
  ASSERT_TRUE(final) << "not all final after 180 s; last stats error: " << last_error << "; " << sink->describe()
                     << "\nserver log tail:\n" << server->process().output_tail();
  EXPECT_EQ(last.delivered, kTotal);

  // Far side: exactly the submitted recipients, once each, each with its own content.
  auto msgs = sink->messages();
  EXPECT_EQ(msgs.size(), std::size_t(kTotal)) << sink->describe();
  std::map<std::string, int> seen;
  int wrong_content = 0, multi_rcpt = 0;
  std::string first_wrong;
  for (const auto& m : msgs) {
    if (m.rcpts.size() != 1) ++multi_rcpt;
    for (const auto& r : m.rcpts) {
      ++seen[r];
      auto want = subject_by_rcpt.find(r);
      if (want == subject_by_rcpt.end() || subject_of(m.content) != want->second) {
        if (wrong_content++ == 0) first_wrong = fmt::format("rcpt {} got subject {:?}", r, subject_of(m.content));
      }
    }
  }
  int duplicates = 0, missing = 0;
  for (const auto& [r, n] : seen) duplicates += n > 1 ? n - 1 : 0;
  for (const auto& [r, s] : subject_by_rcpt) missing += seen.count(r) ? 0 : 1;
  EXPECT_EQ(missing, 0) << "recipients never seen by the sink";
  EXPECT_EQ(duplicates, 0) << "recipients delivered more than once";
  EXPECT_EQ(multi_rcpt, 0) << "transactions with != 1 recipient (each message had one)";
  EXPECT_EQ(wrong_content, 0) << "content not matching its envelope, first: " << first_wrong;
  EXPECT_EQ(sink->counters().messages, kTotal) << "smtp-sink's own -c message counter";

  // Every id reports delivered/250, fetched over one keep-alive connection.
  RingpostApi reader(server->port());
  int not_delivered = 0, errors = 0;
  std::string first_bad;
  for (const auto& id : ids) {
    auto st = reader.status(id);
    if (!st) {
      if (errors++ == 0) first_bad = st.error();
      if (reader.http().connections_opened() > 1) break;  // no point hammering a dead server
      continue;
    }
    bool ok = st->recipients.size() == 1 && st->recipients[0].state == "delivered" && st->recipients[0].last_reply &&
              st->recipients[0].last_reply->code == 250;
    if (!ok && not_delivered++ == 0) first_bad = summarize(*st);
  }
  EXPECT_EQ(errors, 0) << "GET errors, first: " << first_bad;
  EXPECT_EQ(not_delivered, 0) << "ids not delivered/250, first: " << first_bad;
  EXPECT_EQ(reader.http().connections_opened(), 1) << "10,000 GETs did not stay on one keep-alive connection";

  auto stats = api.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_LE(stats->connections_opened, kMaxSessions) << "stats.connections_opened";
  EXPECT_GE(stats->connections_opened, 1);

  // smtp-sink counts a session when it ends: stop ringpost so every session ends, then
  // wait until the kernel shows no connection left to the sink before reading the count.
  EXPECT_TRUE(server->stop(10s)) << "SIGTERM did not stop ringpost within 10 s (SIGKILLed)";
  ASSERT_TRUE(wait_until(15s, 50ms, [&] { return established_connections_to(sink->port()) == 0; }));
  SinkCounters c;
  wait_until(5s, 100ms, [&] {  // let smtp-sink process the last EOFs
    auto before = sink->counters();
    std::this_thread::sleep_for(200ms);
    c = sink->counters();
    return c.sessions == before.sessions;
  });
  std::fprintf(stderr, "[ringpost-it] sink saw %d sessions (%d QUIT), %d messages; ringpost reported %lld connections\n",
               c.sessions, c.quits, c.messages, (long long)stats->connections_opened);
  EXPECT_LE(c.sessions, kMaxSessions) << "SMTP sessions counted by smtp-sink";
  EXPECT_GE(c.sessions, 1);
  EXPECT_EQ(c.sessions, stats->connections_opened) << "sink sessions vs stats.connections_opened";
}

}  // namespace
}  // namespace ringpost::it
