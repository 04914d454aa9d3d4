// Large messages: the default limits fit together (a message with a 20 MiB attachment, 27 MiB
// of base64 in the JSON body, passes server.max_request_bytes, api.max_message_bytes and the
// spool's record limit, and reaches smtp-sink byte for byte), and a client that asks
// "Expect: 100-continue" before sending a large body is told to go on at once.
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/bad_input_support.h"
#include "tests/integration/http_client.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

// RFC 4648 §4, padded, one line: base64 is canonical, so our encoding of the bytes equals
// ringpost's once its line breaks are removed.
std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
  }
  if (const std::size_t rest = in.size() - i) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

class LargeMessage : public SinkServerTest {};

TEST_F(LargeMessage, TwentyMiBAttachmentIsAcceptedAndDeliveredWithDefaultLimits) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  std::string bytes(20u << 20, '\0');
  std::mt19937 rng(8);
  for (char& c : bytes) c = static_cast<char>(rng());
  const std::string encoded = base64(bytes);
  // Split into 76-column lines with CRLF, as many clients send it: the body grows by 80/76
  // inside JSON, and must still fit the default request limit.
  std::string wrapped;
  for (std::size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\\r\\n";
  const std::string body = fmt::format(
      R"({{"from":"agent@example.test","to":["big@sink.test"],"subject":"large","text":"see attachment",)"
      R"("attachments":[{{"filename":"blob.bin","content_type":"application/octet-stream","content_base64":"{}"}}]}})",
      wrapped);
  ASSERT_GT(body.size(), 28u << 20);

  HttpClient http(server->port(), 120s);
  auto r = http.post_json("/v1/messages", body);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->status, 202) << r->body;

  ASSERT_TRUE(wait_until(120s, 200ms, [&] { return sink->message_count() >= 1; })) << sink->describe();
  auto msgs = sink->messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].rcpts, std::vector<std::string>{"big@sink.test"});
  const std::string& content = msgs[0].content;
  const std::size_t part = content.find("blob.bin");
  ASSERT_NE(part, std::string::npos) << content.substr(0, 2000);
  const std::size_t start = content.find("\n\n", part);
  ASSERT_NE(start, std::string::npos);
  const std::size_t end = content.find("\n--", start);
  ASSERT_NE(end, std::string::npos);
  std::string received;
  received.reserve(encoded.size());
  for (std::size_t i = start + 2; i < end; ++i)
    if (content[i] != '\n' && content[i] != '\r') received += content[i];
  EXPECT_EQ(received.size(), encoded.size());
  EXPECT_TRUE(received == encoded) << "the attachment's bytes differ at the sink";
}

// curl sends Expect: 100-continue with every body over 1 MiB and otherwise waits a second.
TEST_F(LargeMessage, ExpectContinueIsAnsweredBeforeTheBody) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  const std::string body = good_message("continued@sink.test");
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(fmt::format("POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                                 "Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                                 body.size())));
  auto go_on = c.read_responses(1);
  ASSERT_EQ(go_on.size(), 1u) << c.received();
  EXPECT_EQ(go_on[0].status, 100);
  ASSERT_TRUE(c.send(body));
  auto answer = c.read_responses(1);
  ASSERT_EQ(answer.size(), 1u) << c.received();
  EXPECT_EQ(answer[0].status, 202) << answer[0].body;
  ASSERT_TRUE(wait_until(30s, 50ms, [&] { return sink->message_count() >= 1; })) << sink->describe();
  EXPECT_EQ(sink->messages()[0].rcpts, std::vector<std::string>{"continued@sink.test"});
}

}  // namespace
}  // namespace ringpost::it
