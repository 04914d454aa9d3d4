// Idempotency-Key against the real server: a retried request gets the first answer (same ids)
// and nothing is sent twice, also after a kill -9 and restart (rebuilt from the spool); the same
// key with another body is a 409; a failed request does not burn the key.
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class Idempotency : public SinkServerTest {};

TEST_F(Idempotency, RetriesGetTheFirstAnswerAndNothingIsSentTwiceEvenAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());

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
  // Whatever a wrongly repeated request would have sent has had time to arrive.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(sink->message_count(), 6) << "a retried request was delivered again";
  std::set<std::string> rcpts;
  for (const SinkMessage& m : sink->messages()) rcpts.insert(m.rcpts.begin(), m.rcpts.end());
  EXPECT_EQ(rcpts.size(), 6u);
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// The case idempotency is for: the client's connection drops after sending, before any answer;
// it cannot know whether the message was accepted, so it sends again with the same key.
TEST_F(Idempotency, RetryAfterADroppedConnectionGetsTheSameIdAndOneDelivery) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
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
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(sink->message_count(), 1) << "the retry after a dropped connection was sent again";
  auto stats = RingpostApi(server->port()).stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->total(), 1) << "two messages were accepted for one Idempotency-Key";
}

}  // namespace
}  // namespace ringpost::it
