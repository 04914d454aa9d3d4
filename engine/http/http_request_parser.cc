// See http_request_parser.h. Header names arrive in pieces (a field may be split across reads),
// hence the field/value accumulation; only Content-Type matters to the API, Content-Length and
// keep-alive are handled by http-parser itself.
#include "engine/http/http_request_parser.h"

#include <strings.h>

#include <climits>
#include <iterator>

namespace ringpost::engine {
namespace {
HttpRequestParser* self(http_parser* p) { return static_cast<HttpRequestParser*>(p->data); }
}  // namespace

HttpRequestParser::HttpRequestParser(std::size_t max_body) : max_body_(max_body) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_url = &on_url;
  settings_.on_header_field = &on_header_field;
  settings_.on_header_value = &on_header_value;
  settings_.on_headers_complete = &on_headers_complete;
  settings_.on_body = &on_body;
  settings_.on_message_complete = &on_message_complete;
}

int HttpRequestParser::on_url(http_parser* p, const char* at, std::size_t len) {
  self(p)->current_.target.append(at, len);
  return 0;
}

int HttpRequestParser::on_header_field(http_parser* p, const char* at, std::size_t len) {
  auto* s = self(p);
  // Chunked trailers come through the same callbacks after the body. They are never request
  // headers: an Authorization sent only in a trailer must not authenticate (RFC 9110 §6.5.1).
  if (s->headers_done_) return 0;
  if (s->in_value_) {
    s->header_field_.clear();
    s->in_value_ = false;
  }
  s->header_field_.append(at, len);
  return 0;
}

int HttpRequestParser::on_header_value(http_parser* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (s->headers_done_) return 0;
  if (!s->in_value_) {
    // The first piece of this field's value: the name is complete. A field that may appear
    // once and appears again is refused: appending the two values would let a split
    // "Authorization" authenticate, and two Content-Lengths are a smuggling vector.
    static constexpr const char* kSingletons[] = {"authorization", "content-length", "host", "content-type",
                                                  "idempotency-key"};
    for (unsigned i = 0; i < std::size(kSingletons); ++i) {
      if (strcasecmp(s->header_field_.c_str(), kSingletons[i]) != 0) continue;
      if (s->seen_singletons_ & (1u << i)) {
        s->duplicate_header_ = kSingletons[i];
        return -1;
      }
      s->seen_singletons_ |= 1u << i;
    }
  }
  s->in_value_ = true;
  if (strcasecmp(s->header_field_.c_str(), "content-type") == 0) s->current_.content_type.append(at, len);
  else if (strcasecmp(s->header_field_.c_str(), "authorization") == 0) s->current_.authorization.append(at, len);
  else if (strcasecmp(s->header_field_.c_str(), "idempotency-key") == 0) s->current_.idempotency_key.append(at, len);
  else if (strcasecmp(s->header_field_.c_str(), "expect") == 0)
    s->expect_continue_ = len == 12 && strncasecmp(at, "100-continue", 12) == 0;
  return 0;
}

int HttpRequestParser::on_headers_complete(http_parser* p) {
  auto* s = self(p);
  s->headers_done_ = true;
  s->current_.method = http_method_str(static_cast<http_method>(p->method));
  // Refuse before reading the body: a client announcing 11 MiB gets 413 at once.
  if (p->content_length != ULLONG_MAX && p->content_length > s->max_body_) {
    s->too_large_ = true;
    return -1;
  }
  // RFC 9110 §10.1.1: never to an HTTP/1.0 client, which would not understand it.
  s->continue_due_ = s->expect_continue_ && p->http_major == 1 && p->http_minor >= 1;
  return 0;
}

int HttpRequestParser::on_body(http_parser* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (s->current_.body.size() + len > s->max_body_) {  // chunked bodies have no length up front
    s->too_large_ = true;
    return -1;
  }
  s->current_.body.append(at, len);
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* p) {
  auto* s = self(p);
  s->current_.keep_alive = http_should_keep_alive(p) != 0;
  s->complete_ = true;
  s->continue_due_ = false;  // the body is here already: a 100 now would only confuse
  http_parser_pause(p, 1);
  return 0;
}

HttpRequestParser::Result HttpRequestParser::feed(std::string_view in) {
  Result r;
  if (failed_) {
    r.status = Status::error;
    r.http_status = 400;
    r.error_code = "bad_request";
    r.error_message = "the connection already had a malformed request";
    return r;
  }
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  r.consumed = http_parser_execute(&parser_, &settings_, in.data(), in.size());
  if (complete_) {
    complete_ = false;
    r.status = Status::request;
    return r;
  }
  enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) {
    failed_ = true;
    r.status = Status::error;
    if (!duplicate_header_.empty()) {
      r.http_status = 400;
      r.error_code = "duplicate_header";
      r.error_message = "the request has more than one " + duplicate_header_ + " header";
    } else if (too_large_) {
      r.http_status = 413;
      r.error_code = "body_too_large";
      r.error_message = "request body exceeds server.max_request_bytes (" + std::to_string(max_body_) + " bytes)";
    } else {
      r.http_status = 400;
      r.error_code = "bad_request";
      r.error_message = std::string("malformed HTTP request: ") + http_errno_description(err);
    }
  }
  return r;
}

bool HttpRequestParser::take_continue() {
  const bool due = continue_due_;
  continue_due_ = false;
  return due;
}

HttpRequest HttpRequestParser::take() {
  HttpRequest out = std::move(current_);
  current_ = HttpRequest{};
  expect_continue_ = false;
  headers_done_ = false;
  seen_singletons_ = 0;
  header_field_.clear();
  in_value_ = false;
  return out;
}

}  // namespace ringpost::engine
