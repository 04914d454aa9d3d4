// HttpRequestParser: golden "input -> event log" tests in the picohttpparser/llhttp style. Every
// input is also fed split at every byte boundary, byte by byte, and in 2/5/10/100-byte
// fragments, through the same buffer handling the front uses (erase `consumed`, feed the rest),
// and must give the same log.
#include "engine/http/http_request_parser.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringpost::engine {
namespace {

using Status = HttpRequestParser::Status;

constexpr std::size_t kMaxBody = 64;

std::string describe(const HttpRequest& r) {
  return fmt::format("{} {} ct='{}' keep_alive={} body='{}'", r.method, r.target, r.content_type, r.keep_alive,
                     r.body);
}

// Feeds `input` cut into the given fragments exactly as Front::process does, and returns one
// line per request or error. Stops at the first error (the front answers and closes).
std::vector<std::string> run(std::string_view input, const std::vector<std::size_t>& fragment_sizes,
                             std::size_t max_body = kMaxBody) {
  HttpRequestParser parser(max_body);
  std::vector<std::string> log;
  std::string buffered;
  std::size_t pos = 0;
  std::size_t frag = 0;
  while (pos < input.size()) {
    std::size_t n = fragment_sizes.empty() ? input.size() : fragment_sizes[std::min(frag, fragment_sizes.size() - 1)];
    ++frag;
    n = std::min(n, input.size() - pos);
    buffered.append(input.substr(pos, n));
    pos += n;
    while (!buffered.empty()) {
      HttpRequestParser::Result r = parser.feed(buffered);
      if (r.consumed > buffered.size()) {
        log.push_back(fmt::format("consumed {} > fed {}", r.consumed, buffered.size()));
        return log;
      }
      buffered.erase(0, r.consumed);
      if (r.status == Status::need_more) {
        // http-parser keeps what it was given; nothing may be left for a second feed.
        if (!buffered.empty()) log.push_back(fmt::format("need_more left {} bytes", buffered.size()));
        break;
      }
      if (r.status == Status::error) {
        log.push_back(fmt::format("error {} {}", r.http_status, r.error_code));
        return log;
      }
      log.push_back(describe(parser.take()));
    }
  }
  if (!buffered.empty()) log.push_back(fmt::format("unparsed {} bytes", buffered.size()));
  return log;
}

std::vector<std::string> run_whole(std::string_view input, std::size_t max_body = kMaxBody) {
  return run(input, {}, max_body);
}

// The same input under every split; each must match `want`.
void expect_every_split(std::string_view input, const std::vector<std::string>& want,
                        std::size_t max_body = kMaxBody) {
  ASSERT_EQ(run_whole(input, max_body), want) << "whole input";
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(run(input, {cut, input.size()}, max_body), want) << "split at byte " << cut;
  }
  for (std::size_t frag : {1, 2, 5, 10, 100}) {
    ASSERT_EQ(run(input, {frag}, max_body), want) << frag << "-byte fragments";
  }
}

TEST(HttpRequestParser, GetWithoutBody) {
  expect_every_split("GET /v1/messages/01ABC HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
                     {"GET /v1/messages/01ABC ct='' keep_alive=true body=''"});
}

TEST(HttpRequestParser, PostWithContentLengthBody) {
  const std::string body = R"({"from":"a@example.test"})";
  const std::string req = fmt::format(
      "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      body.size(), body);
  expect_every_split(req, {"POST /v1/messages ct='application/json' keep_alive=true body='" + body + "'"});
}

TEST(HttpRequestParser, ChunkedBodyIsReassembled) {
  expect_every_split(
      "POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-type: text/plain\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
      {"POST /v1/messages ct='text/plain' keep_alive=true body='hello, world'"});
}

TEST(HttpRequestParser, ContentTypeHeaderNameIsCaseInsensitiveAndOthersAreIgnored) {
  expect_every_split(
      "POST /x HTTP/1.1\r\nX-Content-Type: wrong/one\r\ncOnTeNt-TyPe: application/json; charset=utf-8\r\n"
      "Content-Type-Options: nosniff\r\nContent-Length: 2\r\n\r\n{}",
      {"POST /x ct='application/json; charset=utf-8' keep_alive=true body='{}'"});
}

TEST(HttpRequestParser, ContentTypeCapturedWhenHeaderNameIsSplitAcrossFeeds) {
  const std::string req =
      "POST /v1/messages HTTP/1.1\r\nX-Trace: 1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  const std::size_t name_start = req.find("Content-Type");
  for (std::size_t cut = name_start + 1; cut < name_start + std::string_view("Content-Type").size(); ++cut) {
    HttpRequestParser parser(kMaxBody);
    HttpRequestParser::Result r1 = parser.feed(std::string_view(req).substr(0, cut));
    ASSERT_EQ(r1.status, Status::need_more) << "cut " << cut;
    ASSERT_EQ(r1.consumed, cut);
    HttpRequestParser::Result r2 = parser.feed(std::string_view(req).substr(cut));
    ASSERT_EQ(r2.status, Status::request) << "cut " << cut;
    EXPECT_EQ(r2.consumed, req.size() - cut);
    EXPECT_EQ(parser.take().content_type, "application/json") << "cut " << cut;
  }
}

TEST(HttpRequestParser, PipelinedRequestsComeOutOneAtATime) {
  const std::string first = "POST /v1/messages HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "GET /v1/stats HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string both = first + second;

  HttpRequestParser parser(kMaxBody);
  HttpRequestParser::Result r = parser.feed(both);
  ASSERT_EQ(r.status, Status::request);
  EXPECT_EQ(r.consumed, first.size());  // stops after the first request, not at the end of input
  HttpRequest a = parser.take();
  EXPECT_EQ(describe(a), "POST /v1/messages ct='application/json' keep_alive=true body='abc'");

  r = parser.feed(std::string_view(both).substr(first.size()));
  ASSERT_EQ(r.status, Status::request);
  EXPECT_EQ(r.consumed, second.size());
  HttpRequest b = parser.take();
  // Nothing of the first request (body, content type) leaks into the second.
  EXPECT_EQ(describe(b), "GET /v1/stats ct='' keep_alive=true body=''");
}

TEST(HttpRequestParser, PipelinedRequestsUnderEverySplit) {
  expect_every_split(
      "POST /a HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
      "GET /b HTTP/1.1\r\n\r\n"
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
      "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n",
      {"POST /a ct='application/json' keep_alive=true body='{}'", "GET /b ct='' keep_alive=true body=''",
       "POST /c ct='' keep_alive=true body='xyz'", "GET /d ct='' keep_alive=false body=''"});
}

TEST(HttpRequestParser, ConnectionCloseAndHttp10DisableKeepAlive) {
  expect_every_split("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", {"GET / ct='' keep_alive=false body=''"});
  expect_every_split("GET / HTTP/1.0\r\n\r\n", {"GET / ct='' keep_alive=false body=''"});
  expect_every_split("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {"GET / ct='' keep_alive=true body=''"});
}

TEST(HttpRequestParser, BodyAtTheLimitIsAccepted) {
  const std::string body(kMaxBody, 'x');
  expect_every_split(fmt::format("POST /m HTTP/1.1\r\nContent-Length: {}\r\n\r\n{}", body.size(), body),
                     {"POST /m ct='' keep_alive=true body='" + body + "'"});
}

TEST(HttpRequestParser, ContentLengthOverLimitIs413BeforeTheBodyArrives) {
  HttpRequestParser parser(kMaxBody);
  const std::string head = fmt::format("POST /v1/messages HTTP/1.1\r\nContent-Length: {}\r\n\r\n", kMaxBody + 1);
  HttpRequestParser::Result r = parser.feed(head);  // headers only, not one body byte
  ASSERT_EQ(r.status, Status::error);
  EXPECT_EQ(r.http_status, 413);
  EXPECT_EQ(r.error_code, "body_too_large");
  EXPECT_NE(r.error_message.find(std::to_string(kMaxBody)), std::string::npos) << r.error_message;

  // Sticky: the connection is answered and closed, nothing after the error is parsed.
  r = parser.feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, Status::error);
}

TEST(HttpRequestParser, ContentLengthOverLimitUnderEverySplit) {
  // An 11 MiB announcement against the real default limit, with a few body bytes after it.
  expect_every_split("POST /v1/messages HTTP/1.1\r\nContent-Length: 11534336\r\n\r\nxxxx", {"error 413 body_too_large"},
                     10 * 1024 * 1024);
}

TEST(HttpRequestParser, ChunkedBodyOverLimitIs413) {
  // Each chunk is within the limit; only their sum is not.
  std::string req = "POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(40, 'c');
  for (int i = 0; i < 2; ++i) req += fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  req += "0\r\n\r\n";
  expect_every_split(req, {"error 413 body_too_large"});
}

TEST(HttpRequestParser, GarbageIs400) {
  for (std::string_view junk : {"\x01\x02\x03 hello\r\n\r\n", "HELLO WORLD\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                                "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    std::vector<std::string> log = run_whole(junk);
    EXPECT_EQ(log, std::vector<std::string>{"error 400 bad_request"}) << "input: " << junk;
  }
}

TEST(HttpRequestParser, GarbageAfterAGoodRequestIs400AfterTheRequest) {
  expect_every_split("GET /ok HTTP/1.1\r\n\r\n\x01\x02garbage\r\n\r\n",
                     {"GET /ok ct='' keep_alive=true body=''", "error 400 bad_request"});
}

TEST(HttpRequestParser, ErrorIsSticky) {
  HttpRequestParser parser(kMaxBody);
  ASSERT_EQ(parser.feed("\x01\x02\x03\r\n").status, Status::error);
  HttpRequestParser::Result r = parser.feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.http_status, 400);
}

TEST(HttpRequestParser, PartialRequestIsNeedMoreAndConsumesWhatItWasGiven) {
  HttpRequestParser parser(kMaxBody);
  HttpRequestParser::Result r = parser.feed("POST /v1/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
  EXPECT_EQ(r.status, Status::need_more);
  EXPECT_EQ(r.consumed, std::string_view("POST /v1/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").size());
  r = parser.feed("cde");
  ASSERT_EQ(r.status, Status::request);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(parser.take().body, "abcde");
}

}  // namespace
}  // namespace ringpost::engine

namespace ringpost::engine {
namespace {

// Expect: 100-continue: due once the headers are in and the body is not, once per request;
// never for HTTP/1.0, nor when the body came along, nor when the length is over the limit.
TEST(HttpRequestParser, ExpectContinueIsDueBetweenHeadersAndBody) {
  HttpRequestParser parser(kMaxBody);
  const std::string head = "POST /m HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  HttpRequestParser::Result r = parser.feed(head);
  ASSERT_EQ(r.status, HttpRequestParser::Status::need_more);
  EXPECT_TRUE(parser.take_continue());
  EXPECT_FALSE(parser.take_continue()) << "reported once";
  r = parser.feed("abc");
  ASSERT_EQ(r.status, HttpRequestParser::Status::request);
  EXPECT_EQ(parser.take().body, "abc");
  EXPECT_FALSE(parser.take_continue());

  // The next request on the connection does not inherit the expectation.
  r = parser.feed("POST /n HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
  ASSERT_EQ(r.status, HttpRequestParser::Status::need_more);
  EXPECT_FALSE(parser.take_continue());
}

TEST(HttpRequestParser, ExpectContinueIsNotDueWhenTheBodyCameAlongOrForHttp10OrOverTheLimit) {
  HttpRequestParser whole(kMaxBody);
  ASSERT_EQ(whole.feed("POST /m HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab").status,
            HttpRequestParser::Status::request);
  EXPECT_FALSE(whole.take_continue());

  HttpRequestParser old(kMaxBody);
  ASSERT_EQ(old.feed("POST /m HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").status,
            HttpRequestParser::Status::need_more);
  EXPECT_FALSE(old.take_continue());

  HttpRequestParser big(kMaxBody);
  const auto r = big.feed(fmt::format("POST /m HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n", kMaxBody + 1));
  EXPECT_EQ(r.status, HttpRequestParser::Status::error);
  EXPECT_EQ(r.http_status, 413);
  EXPECT_FALSE(big.take_continue());

  HttpRequestParser other(kMaxBody);
  ASSERT_EQ(other.feed("POST /m HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\n").status,
            HttpRequestParser::Status::need_more);
  EXPECT_FALSE(other.take_continue());
}

}  // namespace
}  // namespace ringpost::engine
