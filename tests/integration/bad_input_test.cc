// Issue 8's bad-input table, each row over HTTP against `ringpost serve` delivering to Postfix
// smtp-sink: the exact status and error code, then proof that the server still serves (a good
// message submitted afterwards reaches the sink) and that nothing accepted before was lost or
// anything refused was accepted (the sink's recipients and the server's count match exactly).
// Many connections and slow clients are tested elsewhere (connections_test.cc, http_api_test.cc).
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/bad_input_support.h"
#include "tests/integration/http_client.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class BadInput : public SinkServerTest {
 protected:
  // Starts the server and has one message accepted before any bad input arrives.
  void start(ServerConfig cfg = {}) {
    ASSERT_NO_FATAL_FAILURE(start_with_sink(std::move(cfg)));
    accept_one("before");
  }

  HttpResponse post(std::string_view target, std::string_view body, std::string_view content_type = "application/json") {
    // A fresh connection per request: a server may rightly close one after an error.
    HttpClient http(server->port(), 60s);
    auto r = http.request("POST", target, body, content_type);
    EXPECT_TRUE(r) << target << ": " << r.error();
    return r ? *r : HttpResponse{};
  }

  // A good message to <tag>@sink.test, which must be accepted.
  void accept_one(std::string_view tag) {
    const std::string rcpt = fmt::format("{}@sink.test", tag);
    auto r = post("/v1/messages", good_message(rcpt));
    ASSERT_EQ(r.status, 202) << r.body;
    accepted_[rcpt] += 1;
  }
  void expect_accepted(const std::string& rcpt) { accepted_[rcpt] += 1; }
  // Accepted, but refused by ringpost itself before SMTP: counted by the server, not the sink.
  void expect_bounced_here() { bounced_here_ += 1; }

  // The server still serves: /healthz answers, a good message submitted now is delivered, and
  // the sink holds exactly the accepted messages, one copy each per recipient: nothing lost,
  // nothing refused slipped through.
  void expect_still_serving() {
    HttpClient http(server->port());
    auto h = http.get("/healthz");
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(h->status, 200);
    ASSERT_NO_FATAL_FAILURE(accept_one("after"));
    std::size_t want = bounced_here_;
    for (const auto& [rcpt, n] : accepted_) want += n;
    const bool all = wait_until(60s, 50ms, [&] { return delivered().size() >= accepted_.size(); });
    EXPECT_TRUE(all) << sink->describe();
    std::map<std::string, int> got;
    for (const SinkMessage& m : sink->messages())
      for (const std::string& r : m.rcpts) got[r] += 1;
    EXPECT_EQ(got, accepted_) << "the sink's recipients differ from what the server accepted";
    RingpostApi api(server->port());
    auto stats = api.stats();
    ASSERT_TRUE(stats) << stats.error();
    EXPECT_EQ(static_cast<std::size_t>(stats->total()), want) << "recipients known to the server";
  }

  std::set<std::string> delivered() const {
    std::set<std::string> out;
    for (const SinkMessage& m : sink->messages()) out.insert(m.rcpts.begin(), m.rcpts.end());
    return out;
  }

  std::map<std::string, int> accepted_;  // recipient → copies the sink must get
  std::size_t bounced_here_ = 0;
};

TEST_F(BadInput, NotJson) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_error(post("/v1/messages", R"({"from":"a@example.test","to":["x@sink.test"],"text":)"), 400, "invalid_json");
  expect_error(post("/v1/messages", "from=a@example.test&to=x@sink.test"), 400, "invalid_json");
  expect_error(post("/v1/messages/batch", "[1,2"), 400, "invalid_json");
  expect_error(post("/v1/messages", R"(["from","to"])"), 400, "invalid_body");
  expect_still_serving();
}

TEST_F(BadInput, WrongContentType) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string good = good_message("x@sink.test");
  auto plain = post("/v1/messages", good, "text/plain");
  expect_error(plain, 415, "unsupported_media_type");
  EXPECT_NE(plain.body.find("text/plain"), std::string::npos) << plain.body;
  expect_error(post("/v1/messages", good, "application/x-www-form-urlencoded"), 415, "unsupported_media_type");
  expect_error(post("/v1/messages/batch", batch_of({good}), ""), 415, "unsupported_media_type");
  // Parameters after the type are fine.
  auto charset = post("/v1/messages", good_message("charset@sink.test"), "application/json; charset=utf-8");
  EXPECT_EQ(charset.status, 202) << charset.body;
  expect_accepted("charset@sink.test");
  expect_still_serving();
}

TEST_F(BadInput, MessageOverTheContentLimitIs413NamingTheLimit) {
  ServerConfig cfg;
  cfg.extra_toml = "[api]\nmax_message_bytes = 65536\n";
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  const std::string over = message_with_text("big@sink.test", std::string(65537, 'x'));
  auto r = post("/v1/messages", over);
  expect_error(r, 413, "message_too_large");
  EXPECT_EQ(limit_of(r.body), (std::pair<std::string, int64_t>{"max_message_bytes", 65536})) << r.body;
  EXPECT_NE(r.body.find("65536"), std::string::npos) << "the message names the value: " << r.body;
  // In a batch the item is named, and nothing of the batch is accepted.
  auto b = post("/v1/messages/batch", batch_of({good_message("b0@sink.test"), over}));
  expect_error(b, 400, "invalid_batch");
  EXPECT_NE(b.body.find(R"("index":1,"code":"message_too_large")"), std::string::npos) << b.body;
  // At the limit exactly: accepted and delivered.
  auto at = post("/v1/messages", message_with_text("exact@sink.test", std::string(65536, 'y')));
  EXPECT_EQ(at.status, 202) << at.body;
  expect_accepted("exact@sink.test");
  expect_still_serving();
}

TEST_F(BadInput, RequestOverMaxRequestBytesIs413) {
  ServerConfig cfg;
  cfg.server_toml = "max_request_bytes = 65536\n";
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  // A Content-Length over the limit is answered before the body is sent.
  RawConnection early(server->port());
  ASSERT_TRUE(early.send("POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         "Content-Length: 10000000\r\n\r\n{\"from\":"));
  auto answers = early.read_responses(1);
  ASSERT_EQ(answers.size(), 1u) << early.received();
  expect_error(answers[0], 413, "body_too_large");
  EXPECT_EQ(limit_of(answers[0].body), (std::pair<std::string, int64_t>{"max_request_bytes", 65536})) << answers[0].body;
  EXPECT_EQ(answers[0].header("connection"), "close");
  EXPECT_TRUE(early.closed_by_server()) << "the rest of the body must not be read as a request";
  // A whole body over the limit, the usual client.
  expect_error(post("/v1/messages", message_with_text("big@sink.test", std::string(70000, 'x'))), 413, "body_too_large");
  expect_still_serving();
}

TEST_F(BadInput, MissingFrom) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_error(post("/v1/messages", R"({"to":["x@sink.test"],"subject":"s","text":"t"})"), 400, "missing_field", "from");
  expect_error(post("/v1/messages", R"({"from":null,"to":["x@sink.test"],"text":"t"})"), 400, "invalid_type", "from");
  expect_error(post("/v1/messages", R"({"from":"","to":["x@sink.test"],"text":"t"})"), 400, "invalid_address", "from");
  expect_still_serving();
}

TEST_F(BadInput, MissingTo) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_error(post("/v1/messages", R"({"from":"a@example.test","subject":"s","text":"t"})"), 400, "no_recipients", "to");
  expect_error(post("/v1/messages", R"({"from":"a@example.test","to":[],"cc":[],"text":"t"})"), 400, "no_recipients",
               "to");
  expect_still_serving();
}

TEST_F(BadInput, BadAddressSyntax) {
  ASSERT_NO_FATAL_FAILURE(start());
  // "Ann <ann@sink.test>" is a valid string form (issue 18); a bad address inside the brackets is not.
  for (const std::string bad : {"no-at-sign", "two@@sink.test", "Ann <ann@sink..test>", "a b@sink.test", "x@sink..test",
                                "x@-sink.test", "@sink.test", "x@"}) {
    SCOPED_TRACE(bad);
    const std::string body = fmt::format(R"({{"from":"a@example.test","to":["ok@sink.test",{}],"text":"t"}})", json_quote(bad));
    expect_error(post("/v1/messages", body), 400, "invalid_address", "to[1]");
  }
  expect_error(post("/v1/messages", R"({"from":"a@example.test","to":"x@sink.test","cc":[{"address":"c d@sink.test"}],"text":"t"})"),
               400, "invalid_address", "cc[0].address");
  expect_still_serving();
}

TEST_F(BadInput, HeaderInjection) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string rest = R"("text":"t")";
  // In a custom header value, CR, LF or both.
  for (const std::string_view eol : {"\\r\\n", "\\n", "\\r"}) {
    SCOPED_TRACE(eol);
    expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":"x@sink.test",{},
        "headers":{{"X-Tag":"v{}Bcc: spy@sink.test"}}}})", rest, eol)),
                 400, "invalid_header", "headers.X-Tag");
    expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":"x@sink.test",{},
        "subject":"hi{}Bcc: spy@sink.test"}})", rest, eol)),
                 400, "invalid_header", "subject");
    expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":"x@sink.test{}Bcc: spy@sink.test",{}}})",
                                                  eol, rest)),
                 400, "invalid_address", "to");
    expect_error(post("/v1/messages", fmt::format(R"({{"from":{{"address":"a@example.test","name":"Ann{}Bcc: spy@sink.test"}},
        "to":"x@sink.test",{}}})", eol, rest)),
                 400, "invalid_display_name", "from.name");
    expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":[{{"address":"x@sink.test","name":"X{}Y"}}],{}}})",
                                                  eol, rest)),
                 400, "invalid_display_name", "to[0].name");
  }
  // A header name with a colon or a space would start a second field.
  expect_error(post("/v1/messages", R"({"from":"a@example.test","to":"x@sink.test","text":"t","headers":{"X-A: b\r\nBcc":"c"}})"),
               400, "invalid_header");
  expect_still_serving();
  EXPECT_FALSE(delivered().count("spy@sink.test"));
}

TEST_F(BadInput, NonAsciiLocalPartWithoutSmtputf8) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string local = "j\\u00f6rg@sink.test";
  // "smtputf8": false says the message must not need it: refused.
  expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":["ok@sink.test","{}"],"text":"t","smtputf8":false}})", local)),
               422, "smtputf8_required", "to[1]");
  expect_error(post("/v1/messages", R"({"from":"\u7528\u6237@example.test","to":"ok@sink.test","text":"t","smtputf8":false})"), 422,
               "smtputf8_required", "from");
  // Without the flag the need is detected: accepted, and bounced with 5.6.7 by ringpost itself
  // because smtp-sink does not offer SMTPUTF8; nothing reaches the sink for it.
  auto opted = post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":"{}","text":"t"}})", local));
  ASSERT_EQ(opted.status, 202) << opted.body;
  const std::string id = id_of(opted.body);
  RingpostApi api(server->port());
  std::string last;
  const bool bounced = wait_until(30s, 50ms, [&] {
    auto s = api.status(id);
    if (!s || s->recipients.size() != 1) return false;
    last = summarize(*s);
    const RecipientStatus& r = s->recipients[0];
    return r.state == "bounced" && r.last_reply && r.last_reply->enhanced == "5.6.7";
  });
  EXPECT_TRUE(bounced) << last;
  expect_bounced_here();
  expect_still_serving();
}

TEST_F(BadInput, EmptyBatch) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_error(post("/v1/messages/batch", R"({"messages":[]})"), 400, "empty_batch", "messages");
  expect_error(post("/v1/messages/batch", R"({})"), 400, "missing_field", "messages");
  expect_still_serving();
}

TEST_F(BadInput, BatchOverTheConfiguredLimit) {
  ServerConfig cfg;
  cfg.extra_toml = "[api]\nmax_batch_messages = 3\n";
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  std::vector<std::string> four;
  for (int i = 0; i < 4; ++i) four.push_back(good_message(fmt::format("four{}@sink.test", i)));
  auto r = post("/v1/messages/batch", batch_of(four));
  expect_error(r, 400, "batch_too_large", "messages");
  EXPECT_EQ(limit_of(r.body), (std::pair<std::string, int64_t>{"max_batch_messages", 3})) << r.body;
  four.pop_back();
  auto three = post("/v1/messages/batch", batch_of(four));
  EXPECT_EQ(three.status, 202) << three.body;
  for (int i = 0; i < 3; ++i) expect_accepted(fmt::format("four{}@sink.test", i));
  expect_still_serving();
}

TEST_F(BadInput, BatchOverTheDefaultLimitOf1000) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<std::string> items(1001, good_message("many@sink.test"));
  auto r = post("/v1/messages/batch", batch_of(items));
  expect_error(r, 400, "batch_too_large", "messages");
  EXPECT_EQ(limit_of(r.body), (std::pair<std::string, int64_t>{"max_batch_messages", 1000})) << r.body;
  expect_still_serving();
}

TEST_F(BadInput, TooManyRecipients) {
  ServerConfig cfg;
  cfg.extra_toml = "[api]\nmax_recipients_per_message = 5\n";
  ASSERT_NO_FATAL_FAILURE(start(cfg));
  auto r = post("/v1/messages", R"({"from":"a@example.test","to":["r1@sink.test","r2@sink.test","r3@sink.test"],
      "cc":["r4@sink.test","r5@sink.test"],"bcc":["r6@sink.test"],"text":"t"})");
  expect_error(r, 400, "too_many_recipients", "bcc");
  EXPECT_EQ(limit_of(r.body), (std::pair<std::string, int64_t>{"max_recipients_per_message", 5})) << r.body;
  auto five = post("/v1/messages", R"({"from":"a@example.test","to":["r1@sink.test","r2@sink.test","r3@sink.test"],
      "cc":["r4@sink.test","r5@sink.test"],"text":"t"})");
  EXPECT_EQ(five.status, 202) << five.body;
  for (int i = 1; i <= 5; ++i) expect_accepted(fmt::format("r{}@sink.test", i));
  expect_still_serving();
}

TEST_F(BadInput, UnknownFieldIsRejected) {
  ASSERT_NO_FATAL_FAILURE(start());
  // "bc" for "bcc": dropping it silently would lose a recipient.
  auto r = post("/v1/messages", R"({"from":"a@example.test","to":"x@sink.test","bc":["y@sink.test"],"text":"t"})");
  expect_error(r, 400, "unknown_field", "bc");
  expect_error(post("/v1/messages/batch", R"({"messages":[{"from":"a@example.test","to":"x@sink.test","text":"t"}],"dry_run":true})"),
               400, "unknown_field", "dry_run");
  auto item = post("/v1/messages/batch", R"({"messages":[{"from":"a@example.test","to":"x@sink.test","text":"t","prio":1}]})");
  expect_error(item, 400, "invalid_batch");
  EXPECT_NE(item.body.find(R"("code":"unknown_field","message")"), std::string::npos) << item.body;
  EXPECT_NE(item.body.find(R"("field":"messages[0].prio")"), std::string::npos) << item.body;
  expect_still_serving();
}

TEST_F(BadInput, InvalidBase64Attachment) {
  ASSERT_NO_FATAL_FAILURE(start());
  for (const std::string bad : {"aGVsbG8*", "aGVsbG8", "aGVs-G8_", "aGVsbG8=aGVs"}) {
    SCOPED_TRACE(bad);
    expect_error(post("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":"x@sink.test","text":"t",
        "attachments":[{{"filename":"a.txt","content_type":"text/plain","content_base64":"aGk="}},
                       {{"filename":"b.bin","content_type":"application/octet-stream","content_base64":"{}"}}]}})", bad)),
                 400, "invalid_base64", "attachments[1].content_base64");
  }
  expect_still_serving();
}

TEST_F(BadInput, DuplicateRecipientsGetOneCopyEach) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto r = post("/v1/messages", R"({"from":"a@example.test","to":["dup@sink.test","DUP@Sink.Test","other@sink.test"],
      "cc":["dup@sink.test","Other@SINK.test"],"bcc":["dup@sink.test","hidden@sink.test","hidden@sink.test"],
      "subject":"dups","text":"t"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("recipients":3)"), std::string::npos) << r.body;
  // First spelling kept: the sink sees each mailbox once, as first written.
  expect_accepted("dup@sink.test");
  expect_accepted("other@sink.test");
  expect_accepted("hidden@sink.test");
  expect_still_serving();
  std::size_t copies = 0;
  for (const SinkMessage& m : sink->messages())
    if (m.content.find("Subject: dups") != std::string::npos) copies += m.rcpts.size();
  EXPECT_EQ(copies, 3u);
}

TEST_F(BadInput, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto request = [](std::string_view method, std::string_view target, std::string_view body,
                          std::string_view content_type = "application/json") {
    return fmt::format("{} {} HTTP/1.1\r\nHost: t\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}", method, target,
                       content_type, body.size(), body);
  };
  // Six requests in one send on one keep-alive connection, bad ones between good ones.
  const std::string all = request("POST", "/v1/messages", good_message("p1@sink.test")) +
                          request("POST", "/v1/messages", R"({"from":"a@example.test",)") +
                          request("POST", "/v1/messages/batch", batch_of({good_message("p2@sink.test"), good_message("p3@sink.test")})) +
                          request("POST", "/v1/messages", good_message("p4@sink.test"), "text/plain") +
                          request("GET", "/healthz", "") +
                          request("POST", "/v1/messages", R"({"from":"a@example.test","to":"p5@sink.test","text":"t","x":1})") +
                          request("POST", "/v1/messages", good_message("p6@sink.test"));
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(all));
  auto answers = c.read_responses(7);
  ASSERT_EQ(answers.size(), 7u) << c.received();
  EXPECT_EQ(answers[0].status, 202) << answers[0].body;
  expect_error(answers[1], 400, "invalid_json");
  EXPECT_EQ(answers[2].status, 202) << answers[2].body;
  EXPECT_NE(answers[2].body.find(R"("ids":[)"), std::string::npos) << answers[2].body;
  expect_error(answers[3], 415, "unsupported_media_type");
  EXPECT_EQ(answers[4].status, 200) << answers[4].body;
  EXPECT_NE(answers[4].body.find("ok"), std::string::npos) << answers[4].body;
  expect_error(answers[5], 400, "unknown_field", "x");
  EXPECT_EQ(answers[6].status, 202) << answers[6].body;
  EXPECT_NE(id_of(answers[0].body), id_of(answers[6].body));
  for (const char* rcpt : {"p1@sink.test", "p2@sink.test", "p3@sink.test", "p6@sink.test"}) expect_accepted(rcpt);
  // The connection is still usable after all that.
  ASSERT_TRUE(c.send(request("GET", "/healthz", "")));
  auto more = c.read_responses(1);
  ASSERT_EQ(more.size(), 1u) << c.received();
  EXPECT_EQ(more[0].status, 200);
  expect_still_serving();
}

}  // namespace
}  // namespace ringpost::it
