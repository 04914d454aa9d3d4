// HttpRequestParser against the smuggling and confusion inputs of issue 18: singleton headers
// sent twice, credentials in chunked trailers. Every input is also fed split at every byte
// boundary, so a field name or value cut across reads cannot slip past the checks.
#include "engine/http/http_request_parser.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace ringpost::engine {
namespace {

struct Outcome {
  HttpRequestParser::Status status = HttpRequestParser::Status::need_more;
  std::string error_code;
  HttpRequest request;
};

// Feeds `in` in two pieces split at `split` (0 = whole).
Outcome parse(const std::string& in, std::size_t split = 0) {
  HttpRequestParser p(1 << 20);
  Outcome o;
  std::string buf;
  std::size_t fed = 0;
  for (std::size_t piece : {split ? split : in.size(), in.size() - (split ? split : in.size())}) {
    buf.append(in, fed, piece);
    fed += piece;
    auto r = p.feed(buf);
    buf.erase(0, r.consumed);
    if (r.status == HttpRequestParser::Status::error) {
      o.status = r.status;
      o.error_code = r.error_code;
      return o;
    }
    if (r.status == HttpRequestParser::Status::request) {
      o.status = r.status;
      o.request = p.take();
      return o;
    }
  }
  return o;
}

void for_every_split(const std::string& in, const std::function<void(const Outcome&, std::size_t)>& check) {
  for (std::size_t s = 0; s < in.size(); ++s) check(parse(in, s), s);
}

TEST(HttpFraming, DuplicateSingletonHeadersAreRefused) {
  for (const std::string name : {"Authorization", "Content-Length", "Host", "Content-Type", "Idempotency-Key", "authorization"}) {
    const std::string req = "GET / HTTP/1.1\r\n" + name + ": 1\r\n" + name + ": 1\r\n\r\n";
    // http-parser refuses a second Content-Length itself (HPE_UNEXPECTED_CONTENT_LENGTH), before
    // our callbacks see it: 400 bad_request rather than duplicate_header, but refused either way.
    const std::string want = name == "Content-Length" ? "bad_request" : "duplicate_header";
    for_every_split(req, [&](const Outcome& o, std::size_t s) {
      EXPECT_EQ(o.status, HttpRequestParser::Status::error) << name << " split " << s;
      EXPECT_EQ(o.error_code, want) << name << " split " << s;
    });
  }
}

TEST(HttpFraming, SplitAuthorizationDoesNotConcatenate) {
  const std::string req = "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer rp_ab\r\nAuthorization: cd\r\n\r\n";
  for_every_split(req, [&](const Outcome& o, std::size_t s) {
    EXPECT_EQ(o.status, HttpRequestParser::Status::error) << s;
    EXPECT_EQ(o.error_code, "duplicate_header") << s;
  });
}

TEST(HttpFraming, OneValueSplitAcrossReadsIsOneHeader) {
  const std::string req = "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer rp_abcdef\r\nX-Other: 1\r\n\r\n";
  for_every_split(req, [&](const Outcome& o, std::size_t s) {
    ASSERT_EQ(o.status, HttpRequestParser::Status::request) << s;
    EXPECT_EQ(o.request.authorization, "Bearer rp_abcdef") << s;
  });
}

TEST(HttpFraming, TrailersAreNeverRequestHeaders) {
  const std::string req =
      "POST /v1/messages HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\nAuthorization: Bearer rp_in_trailer\r\nContent-Type: text/evil\r\nIdempotency-Key: t\r\n\r\n";
  for_every_split(req, [&](const Outcome& o, std::size_t s) {
    ASSERT_EQ(o.status, HttpRequestParser::Status::request) << s;
    EXPECT_EQ(o.request.authorization, "") << s;
    EXPECT_EQ(o.request.content_type, "application/json") << s;
    EXPECT_EQ(o.request.idempotency_key, "") << s;
    EXPECT_EQ(o.request.body, "{}") << s;
  });
}

TEST(HttpFraming, SingletonsResetBetweenPipelinedRequests) {
  HttpRequestParser p(1 << 20);
  std::string in = "GET /a HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\nGET /b HTTP/1.1\r\nAuthorization: Bearer y\r\n\r\n";
  auto r1 = p.feed(in);
  ASSERT_EQ(r1.status, HttpRequestParser::Status::request);
  EXPECT_EQ(p.take().authorization, "Bearer x");
  in.erase(0, r1.consumed);
  auto r2 = p.feed(in);
  ASSERT_EQ(r2.status, HttpRequestParser::Status::request);
  EXPECT_EQ(p.take().authorization, "Bearer y");
}

}  // namespace
}  // namespace ringpost::engine
