// Idempotency-Key against the real server: a retried request gets the first answer (same ids)
// and nothing is sent twice, also after a kill -9 and restart (rebuilt from the spool); the same
// key with another body is a 409; a failed request does not burn the key.
#include <algorithm>
#include <filesystem>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/delivery_barrier.h"
#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/spool_files.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class Idempotency : public SinkServerTest {};

TEST_F(Idempotency, RetriesGetTheFirstAnswerAndNothingIsSentTwiceEvenAcrossARestart) {
  ServerConfig cfg;
  cfg.server_toml = barrier_admin_toml();  // settle_site reads the domain's queue
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));

  HttpClient http(server->port());
  const std::string one = to_json({"a@example.test", {"one@sink.test"}, "once", "only once"});
  http.set_header("Idempotency-Key", "order-1001");
  auto first = http.post_json("/v1/messages", one);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  EXPECT_EQ(first->header("idempotent-replayed"), "");
  auto again = http.post_json("/v1/messages", one);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202) << again->body;
  EXPECT_EQ(again->body, first->body) << "a retry must get the same id";
  EXPECT_EQ(again->header("idempotent-replayed"), "true");
  auto other_body = http.post_json("/v1/messages", to_json({"a@example.test", {"two@sink.test"}, "x", "y"}));
  ASSERT_TRUE(other_body);
  EXPECT_EQ(other_body->status, 409) << other_body->body;
  EXPECT_EQ(error_code_of(other_body->body), "idempotency_mismatch");

  // A request refused (here: invalid) does not use the key up.
  http.set_header("Idempotency-Key", "order-1002");
  auto invalid = http.post_json("/v1/messages", R"({"from":"not an address","to":["z@sink.test"],"text":"t"})");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 400);
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({"a@example.test", {fmt::format("b{}@sink.test", i)}, "b", "batch"});
  auto b1 = http.post_json("/v1/messages/batch", batch_json(batch));
  ASSERT_TRUE(b1);
  ASSERT_EQ(b1->status, 202) << b1->body;

  ASSERT_TRUE(wait_until(20s, 50ms, [&] { return sink->message_count() >= 6; })) << sink->describe();
  // The front has the 6 outcomes too (and so queues their OUTCOME records) before the kill:
  // otherwise a legitimate redelivery after the restart (a message whose outcome was not yet
  // recorded) would be counted below as a repeated request.
  ASSERT_TRUE(wait_until(20s, 50ms, [&] {
    auto st = RingpostApi(server->port()).stats();
    return st && st->delivered >= 6;
  }));
  server->kill9();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();

  HttpClient after(server->port());
  after.set_header("Idempotency-Key", "order-1002");
  auto b2 = after.post_json("/v1/messages/batch", batch_json(batch));
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->status, 202) << b2->body;
  EXPECT_EQ(b2->body, b1->body) << "after a restart the answer is rebuilt from the spool";
  EXPECT_EQ(b2->header("idempotent-replayed"), "true");
  after.set_header("Idempotency-Key", "order-1001");
  auto single = after.post_json("/v1/messages", one);
  ASSERT_TRUE(single);
  EXPECT_EQ(single->body, first->body);
  // Barrier, not a wait: a wrongly repeated request would have been queued for sink.test before
  // its 202, so ahead of the sentinel on the same FIFO path to the site; the site is then
  // drained (delivery_barrier.h). The sink has the 6 messages plus the sentinel.
  ASSERT_TRUE(settle_site(server->port(), "sink.test"));
  EXPECT_EQ(sink->message_count(), 6 + 1) << "a retried request was delivered again";
  std::set<std::string> rcpts;
  for (const SinkMessage& m : sink->messages()) rcpts.insert(m.rcpts.begin(), m.rcpts.end());
  EXPECT_EQ(rcpts.size(), 6u + 1);
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// The case idempotency is for: the client's connection drops after sending, before any answer;
// it cannot know whether the message was accepted, so it sends again with the same key.
TEST_F(Idempotency, RetryAfterADroppedConnectionGetsTheSameIdAndOneDelivery) {
  ServerConfig cfg;
  cfg.server_toml = barrier_admin_toml();  // settle_site reads the domain's queue
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  const std::string body = to_json({"a@example.test", {"dropped@sink.test"}, "once", "exactly once"});
  {
    // Raw socket: send the request and close without reading the answer.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string req = fmt::format(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: drop-1\r\n"
        "Content-Length: {}\r\n\r\n{}", body.size(), body);
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    ::close(fd);
  }
  HttpClient http(server->port());
  http.set_header("Idempotency-Key", "drop-1");
  tl::expected<HttpResponse, std::string> retry = tl::make_unexpected("not sent");
  // The first request may still be being written when the retry arrives (409 in progress).
  ASSERT_TRUE(wait_until(10s, 50ms, [&] {
    retry = http.post_json("/v1/messages", body);
    return retry && retry->status == 202;
  })) << (retry ? retry->body : retry.error());
  ASSERT_TRUE(wait_until(10s, 50ms, [&] { return sink->message_count() >= 1; }));
  // Barrier: a second copy would have been queued for sink.test before the retry's 202, so
  // ahead of the sentinel on the same FIFO path to the site, which is then drained
  // (delivery_barrier.h). Stats first, so the sentinel is not counted there.
  auto stats = RingpostApi(server->port()).stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->total(), 1) << "two messages were accepted for one Idempotency-Key";
  ASSERT_TRUE(settle_site(server->port(), "sink.test"));
  EXPECT_EQ(sink->message_count(), 1 + 1) << "the retry after a dropped connection was sent again";
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// The segment holding a request's ACCEPTs is deleted once its messages are delivered; the
// answer must be written forward first (docs/spool.md), or a retry after a restart within the
// key's 24 h would be sent again. Enough traffic follows that the segment the answer was
// carried into is deleted too, so the answer has to travel more than once.
TEST_F(Idempotency, AnswersOutliveTheSegmentsTheyWereIn) {
  ServerConfig cfg;
  cfg.spool_dir = dir_.path() / "spool";
  cfg.extra_toml = "[spool]\nsegment_bytes = 65536\n";
  cfg.server_toml = barrier_admin_toml();  // settle_site reads the domain's queue
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  HttpClient http(server->port());
  const std::string one = to_json({"a@example.test", {"kept@sink.test"}, "once", "only once"});
  http.set_header("Idempotency-Key", "order-2001");
  auto first = http.post_json("/v1/messages", one);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  ASSERT_TRUE(wait_until(20s, 50ms, [&] { return sink->message_count() >= 1; })) << sink->describe();
  const std::set<std::string> before = spool_files(cfg.spool_dir).names;
  ASSERT_FALSE(before.empty());

  RingpostApi api(server->port());
  constexpr int kBatches = 16, kPerBatch = 250;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < kPerBatch; ++i)
      batch.push_back({"agent@example.test", {fmt::format("r{}-{}@sink.test", b, i)}, "filler",
                       std::string(1000, 'a' + (i % 26))});
    auto ids = api.submit_batch(batch);
    ASSERT_TRUE(ids) << ids.error();
    if (b == kBatches / 2)  // the segments the answer was carried into so far go too
      ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink->message_count() >= 1 + (b + 1) * kPerBatch; }));
  }
  ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink->message_count() >= 1 + kBatches * kPerBatch; }))
      << sink->describe();
  // Reclaim runs on the front's ticks: wait until every segment there was before is gone.
  ASSERT_TRUE(wait_until(30s, 100ms, [&] { return all_gone(cfg.spool_dir, before); }))
      << "the segment with the first request was never reclaimed";

  server->kill9();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  HttpClient after(server->port());
  after.set_header("Idempotency-Key", "order-2001");
  auto replay = after.post_json("/v1/messages", one);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 202) << replay->body;
  EXPECT_EQ(replay->body, first->body);
  EXPECT_EQ(replay->header("idempotent-replayed"), "true");
  auto mismatch = after.post_json("/v1/messages", to_json({"a@example.test", {"other@sink.test"}, "x", "y"}));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->status, 409) << mismatch->body;
  // Barrier: a wrongly accepted replay would have been queued for sink.test before its 202, so
  // ahead of the sentinel on the same FIFO path to the site, which is then drained
  // (delivery_barrier.h).
  ASSERT_TRUE(settle_site(server->port(), "sink.test"));
  int copies = 0;
  for (const SinkMessage& m : sink->messages())
    copies += static_cast<int>(std::count(m.rcpts.begin(), m.rcpts.end(), "kept@sink.test"));
  EXPECT_EQ(copies, 1) << "the retried request was delivered again";
}

}  // namespace
}  // namespace ringpost::it
