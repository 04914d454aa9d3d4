// Graceful drain (docs/operating.md): on SIGTERM the node refuses new work with 503 draining,
// lets SMTP transactions in flight finish (the sinks here hold their final reply back), exits 0
// within drain_timeout, and a restart over the same spool delivers whatever was still queued.
// Checked from the sinks' side: every recipient acknowledged with 202 arrives, nothing else does.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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
using Clock = std::chrono::steady_clock;

class Drain : public ServerTest {};

std::map<std::string, int> recipients_seen(const std::vector<const SmtpSink*>& sinks) {
  std::map<std::string, int> seen;
  for (const SmtpSink* s : sinks)
    for (const auto& m : s->messages())
      for (const auto& r : m.rcpts) ++seen[r];
  return seen;
}

// The signal reaches the server's main thread asynchronously: poll until the front says so.
bool healthz_says_draining(uint16_t port) {
  return wait_until(10s, 5ms, [&] {
    HttpClient probe(port, 5s);
    auto h = probe.get("/healthz");
    return h && h->status == 503 && error_code_of(h->body) == "draining";
  });
}

bool exited_zero(Process& p) {
  auto st = p.wait_status();
  return st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0;
}

// What the submitting thread saw. The main thread reads it after join().
struct SubmitLog {
  std::set<std::string> accepted;  // recipients of 202 answers
  std::atomic<int> batches_accepted{0};  // read by the main thread while the client runs
  int draining_503 = 0;
  int draining_without_retry_after = 0;
  int refused = 0;  // transport errors: the listener is gone
  std::vector<std::string> unexpected;
};

// Submits batches until the server stops answering (or the bounds run out); after a 503 or a
// transport error it goes on, as a client behind a balancer would, until it has seen a few.
void submit_until_gone(uint16_t port, int batch_size, int max_batches, Clock::time_point deadline,
                       std::atomic<bool>& sigterm_sent, SubmitLog& log) {
  HttpClient http(port, 10s);
  for (int b = 0; b < max_batches && Clock::now() < deadline && log.refused < 3; ++b) {
    std::vector<OutgoingMessage> batch;
    std::vector<std::string> rcpts;
    for (int i = 0; i < batch_size; ++i) {
      rcpts.push_back(fmt::format("b{}m{}@drain.test", b, i));
      batch.push_back({"sender@example.test", {rcpts.back()}, fmt::format("batch {} msg {}", b, i), "body"});
    }
    const bool after_sigterm = sigterm_sent.load();
    auto r = http.post_json("/v1/messages/batch", batch_json(batch));
    if (!r) {
      ++log.refused;
      if (!after_sigterm) log.unexpected.push_back("transport error before SIGTERM: " + r.error());
      std::this_thread::sleep_for(20ms);
      continue;
    }
    // A steady load rather than a flood: the queue at SIGTERM stays a few thousand deep.
    std::this_thread::sleep_for(10ms);
    if (r->status == 202) {
      log.accepted.insert(rcpts.begin(), rcpts.end());
      ++log.batches_accepted;
    } else if (r->status == 503 && error_code_of(r->body) == "draining") {
      ++log.draining_503;
      if (r->header("retry-after").empty()) ++log.draining_without_retry_after;
      if (!sigterm_sent.load()) log.unexpected.push_back("503 draining before SIGTERM");
    } else {
      log.unexpected.push_back(fmt::format("{}: {}", r->status, r->body));
    }
  }
}

// (a) SIGTERM under load: submits keep coming while the sink takes a second per message.
TEST_F(Drain, SigtermDuringLoadLosesNothing) {
  constexpr int kBatch = 20, kMaxBatches = 3000;
  constexpr auto kDrainTimeout = 5s;
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  const uint16_t sink_port = (*ports)[1];
  // -W .:1: the sink holds each final 250 for a second (after writing the message to its dump),
  // so at SIGTERM up to max_connections transactions are waiting on their last reply.
  auto slow = SmtpSink::start(dir_ / "sink-slow", sink_port, {"-W", ".:1"});
  ASSERT_TRUE(slow) << slow.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.max_connections = 10;
  cfg.retry = {"1s"};
  cfg.server_toml = "drain_timeout = \"5s\"\n";
  cfg.domains = {{"drain.test", fmt::format("127.0.0.1:{}", sink_port)}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  std::atomic<bool> sigterm_sent{false};
  SubmitLog log;
  std::thread client([&] {
    submit_until_gone(server->port(), kBatch, kMaxBatches, Clock::now() + 60s, sigterm_sent, log);
  });
  // SIGTERM once deliveries are under way and the queue is deeper than one drain can empty.
  bool loaded = wait_until(30s, 20ms, [&] { return slow->message_count() >= 10 && log.batches_accepted >= 20; });
  EXPECT_TRUE(loaded) << slow->describe();
  sigterm_sent.store(true);
  const auto t0 = Clock::now();
  ASSERT_EQ(::kill(server->process().pid(), SIGTERM), 0);
  // A load balancer takes the node out; a fresh client during the drain (transactions wait up
  // to a second on the sink) is refused.
  EXPECT_TRUE(healthz_says_draining(server->port()));
  {
    HttpClient probe(server->port(), 5s);
    auto r = probe.post_json("/v1/messages", to_json({"sender@example.test", {"late@drain.test"}, "late", "x"}));
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(error_code_of(r->body), "draining") << r->body;
    EXPECT_FALSE(r->header("retry-after").empty());
  }
  const bool by_itself = server->stop(kDrainTimeout + 15s);
  const auto exit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  client.join();
  ASSERT_TRUE(by_itself) << "not gone " << exit_ms << " ms after SIGTERM; log:\n" << server->process().output_tail();
  EXPECT_TRUE(exited_zero(server->process())) << server->process().describe_exit() << "\n"
                                              << server->process().output_tail();
  EXPECT_TRUE(log.unexpected.empty()) << log.unexpected.size() << " unexpected answers, first: " << log.unexpected[0];
  EXPECT_EQ(log.draining_without_retry_after, 0);
  EXPECT_GT(log.draining_503 + log.refused, 0) << "the load ended before SIGTERM: the test proves nothing";
  const int at_exit = slow->message_count();
  std::fprintf(stderr,
               "[ringpost-it] drain: exit %lld ms after SIGTERM; %d batches accepted (%zu rcpts), %d x 503 draining, "
               "%d refused; %d at the sink at exit\n",
               (long long)exit_ms, log.batches_accepted.load(), log.accepted.size(), log.draining_503, log.refused, at_exit);
  ASSERT_LT(at_exit, static_cast<int>(log.accepted.size())) << "everything was delivered before exit: proves nothing";

  // Restart over the same spool, delivering to a sink without the delay on the same port.
  ASSERT_TRUE(slow->process().terminate(5s));
  auto fast = SmtpSink::start(dir_ / "sink-fast", sink_port);
  ASSERT_TRUE(fast) << fast.error();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  std::map<std::string, int> seen;
  auto all_arrived = [&] {
    seen = recipients_seen({&*slow, &*fast});
    for (const auto& r : log.accepted)
      if (!seen.count(r)) return false;
    return true;
  };
  const bool arrived = wait_until(120s, 250ms, all_arrived);
  int missing = 0, unknown = 0, duplicates = 0;
  for (const auto& r : log.accepted) missing += seen.count(r) ? 0 : 1;
  for (const auto& [r, n] : seen) {
    unknown += log.accepted.count(r) ? 0 : 1;
    duplicates += n - 1;
  }
  std::fprintf(stderr, "[ringpost-it] drain: after restart %zu unique at the sinks, %d duplicates\n", seen.size(),
               duplicates);
  EXPECT_TRUE(arrived) << missing << " accepted recipients never arrived; log:\n" << server->process().output_tail();
  EXPECT_EQ(static_cast<int>(seen.size()) - unknown, static_cast<int>(log.accepted.size()));
  EXPECT_EQ(unknown, 0) << "delivered without a 202: a refused submit was spooled";
  // The drain let every transaction finish and recorded it: nothing confirmed is sent again.
  EXPECT_EQ(duplicates, 0);
}

// (b) The transaction in flight at SIGTERM completes, and the restart does not repeat it.
TEST_F(Drain, InFlightTransactionCompletesOnce) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  // The final 250 comes 3 s after the message is in the sink's dump; drain_timeout is longer.
  auto sink = SmtpSink::start(dir_ / "sink", (*ports)[1], {"-W", ".:3"});
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1s"};
  cfg.server_toml = "drain_timeout = \"20s\"\n";
  cfg.domains = {{"drain.test", fmt::format("127.0.0.1:{}", sink->port())}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  std::string id;
  {
    RingpostApi api(server->port());
    auto got = api.submit({"sender@example.test", {"once@drain.test"}, "in flight", "body"});
    ASSERT_TRUE(got) << got.error();
    id = *got;
  }
  ASSERT_TRUE(wait_until(30s, 10ms, [&] { return sink->message_count() >= 1; })) << sink->describe();
  {
    RingpostApi api(server->port());
    auto st = api.status(id);
    ASSERT_TRUE(st) << st.error();
    ASSERT_NE(st->recipients.at(0).state, "delivered") << "the 250 came early: the test proves nothing";
  }
  const auto t0 = Clock::now();
  ASSERT_EQ(::kill(server->process().pid(), SIGTERM), 0);
  EXPECT_TRUE(healthz_says_draining(server->port()));
  ASSERT_TRUE(server->stop(35s)) << server->process().output_tail();
  const auto exit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_TRUE(exited_zero(server->process())) << server->process().describe_exit();
  std::fprintf(stderr, "[ringpost-it] drain: exit %lld ms after SIGTERM with one transaction in flight\n",
               (long long)exit_ms);
  // smtp-sink counts sessions as they end: the drain closed ours with QUIT, not by cutting it.
  ASSERT_TRUE(wait_until(5s, 50ms, [&] { return sink->counters().sessions >= 1; })) << sink->describe();
  EXPECT_EQ(sink->counters().quits, sink->counters().sessions) << sink->describe();

  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  RingpostApi api(server->port());
  auto st = api.status(id);
  ASSERT_TRUE(st) << st.error();
  ASSERT_EQ(st->recipients.size(), 1u);
  // Recovered as delivered, so it is not queued again: the outcome reached the disk.
  EXPECT_EQ(st->recipients[0].state, "delivered") << summarize(*st);
  EXPECT_EQ(st->recipients[0].attempts, 1) << summarize(*st);
  auto stats = api.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->queued + stats->deferred, 0);
  EXPECT_EQ(sink->message_count(), 1);
}

// A transaction slower than drain_timeout is cut: the node still exits 0 in time, and the
// message, never confirmed, is delivered after the restart.
TEST_F(Drain, TransactionLongerThanDrainTimeoutIsCutAndRetried) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  const uint16_t sink_port = (*ports)[1];
  auto stuck = SmtpSink::start(dir_ / "sink-stuck", sink_port, {"-W", ".:60"});
  ASSERT_TRUE(stuck) << stuck.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1s"};
  cfg.server_toml = "drain_timeout = \"1s\"\n";
  cfg.domains = {{"drain.test", fmt::format("127.0.0.1:{}", sink_port)}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  std::string id;
  {
    RingpostApi api(server->port());
    auto got = api.submit({"sender@example.test", {"cut@drain.test"}, "cut", "body"});
    ASSERT_TRUE(got) << got.error();
    id = *got;
  }
  ASSERT_TRUE(wait_until(30s, 10ms, [&] { return stuck->message_count() >= 1; })) << stuck->describe();
  ASSERT_TRUE(server->stop(15s)) << "not gone 15 s after SIGTERM with drain_timeout 1s\n"
                                 << server->process().output_tail();
  EXPECT_TRUE(exited_zero(server->process())) << server->process().describe_exit();

  ASSERT_TRUE(stuck->process().terminate(5s));
  auto fast = SmtpSink::start(dir_ / "sink-fast", sink_port);
  ASSERT_TRUE(fast) << fast.error();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  EXPECT_TRUE(wait_until(60s, 100ms, [&] { return fast->message_count() >= 1; }))
      << "the cut message was not delivered after the restart\n" << server->process().output_tail();
  RingpostApi api(server->port());
  EXPECT_TRUE(wait_until(10s, 100ms, [&] {
    auto st = api.status(id);
    return st && st->recipients.size() == 1 && st->recipients[0].state == "delivered";
  }));
}

}  // namespace
}  // namespace ringpost::it
