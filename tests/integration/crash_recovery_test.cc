// kill -9 must lose nothing that was acknowledged: messages accepted with 202 while their
// destination is down must still be delivered by the next server process over the same spool.
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

class CrashRecovery : public ServerTest {};

TEST_F(CrashRecovery, AcceptedMessagesSurviveKill9) {
  constexpr int kBatches = 4, kPerBatch = 250, kTotal = kBatches * kPerBatch;
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  const uint16_t dead_port = (*ports)[1];  // nothing listens here until after the restart
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1s"};
  cfg.domains = {{"crash.test", fmt::format("127.0.0.1:{}", dead_port)}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  std::vector<std::string> ids;
  std::set<std::string> rcpts;
  {
    RingpostApi api(server->port());
    for (int b = 0; b < kBatches; ++b) {
      std::vector<OutgoingMessage> batch;
      for (int i = 0; i < kPerBatch; ++i) {
        int k = b * kPerBatch + i;
        rcpts.insert(fmt::format("rcpt{}@crash.test", k));
        batch.push_back({"sender@example.test", {fmt::format("rcpt{}@crash.test", k)}, fmt::format("msg {}", k),
                         fmt::format("body of message {}", k)});
      }
      auto got = api.submit_batch(batch);
      ASSERT_TRUE(got) << "batch " << b << ": " << got.error();
      ASSERT_EQ(got->size(), std::size_t(kPerBatch));
      ids.insert(ids.end(), got->begin(), got->end());
    }
  }
  // Kill right after the last 202: the acknowledgement alone must make the messages durable.
  server->kill9();
  ASSERT_FALSE(port_is_listening(dead_port)) << "something else took the 'dead' port";

  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << "restart over the same spool: " << restarted.error();
  auto sink = SmtpSink::start(dir_ / "sink", dead_port);
  ASSERT_TRUE(sink) << sink.error();

  bool arrived = wait_until(120s, 250ms, [&] { return sink->message_count() >= kTotal; });
  RingpostApi api(server->port());
  auto stats_now = api.stats();
  ASSERT_TRUE(arrived) << "only " << sink->message_count() << " of " << kTotal << " reached the sink in 120 s; "
                       << (stats_now ? fmt::format("stats delivered={} queued={} deferred={} bounced={} expired={}",
                                                   stats_now->delivered, stats_now->queued, stats_now->deferred,
                                                   stats_now->bounced, stats_now->expired)
                                     : stats_now.error())
                       << "\nserver log tail:\n" << server->process().output_tail();

  std::map<std::string, int> seen;
  for (const auto& m : sink->messages())
    for (const auto& r : m.rcpts) ++seen[r];
  int missing = 0, duplicates = 0, unknown = 0;
  for (const auto& r : rcpts) missing += seen.count(r) ? 0 : 1;
  for (const auto& [r, n] : seen) {
    duplicates += n - 1;
    unknown += rcpts.count(r) ? 0 : 1;
  }
  EXPECT_EQ(missing, 0);
  // Nothing could have been delivered before the kill (no listener), so a duplicate here
  // means recovery replayed a delivery it had already made.
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(unknown, 0);

  // The server records delivery after the sink's 250; give it a moment to catch up.
  Stats last;
  EXPECT_TRUE(wait_until(30s, 200ms, [&] {
    auto s = api.stats();
    if (s) last = *s;
    return s && s->delivered >= kTotal;
  })) << "stats.delivered=" << last.delivered;
  int not_delivered = 0, errors = 0;
  std::string first_bad;
  for (const auto& id : ids) {
    auto st = api.status(id);
    if (!st) {
      if (errors++ == 0) first_bad = st.error();
      continue;
    }
    if (st->recipients.size() != 1 || st->recipients[0].state != "delivered") {
      if (not_delivered++ == 0) first_bad = summarize(*st);
    }
  }
  EXPECT_EQ(errors, 0) << "ids unknown after restart, first: " << first_bad;
  EXPECT_EQ(not_delivered, 0) << "first: " << first_bad;
}

}  // namespace
}  // namespace ringpost::it
