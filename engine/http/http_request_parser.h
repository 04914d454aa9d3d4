// HTTP/1.1 request framing over nodejs/http-parser, sans-IO: fed bytes, yields one request at a
// time. The parser pauses after each request so the front answers pipelined requests in order.
// Owned by one HTTP connection on the front thread.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ringpost::engine {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string content_type;
  std::string authorization;
  std::string idempotency_key;
  std::string body;
  bool keep_alive = true;
};

class HttpRequestParser {
 public:
  enum class Status { need_more, request, error };
  struct Result {
    Status status = Status::need_more;
    std::size_t consumed = 0;
    int http_status = 0;      // for errors: 400 or 413
    std::string error_code;   // machine code for the JSON error body
    std::string error_message;
  };

  explicit HttpRequestParser(std::size_t max_body);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from the start of `in` until one request is complete, more bytes are needed, or the
  // input is invalid. After Status::request, take() the request; the next feed() continues
  // with the bytes after `consumed`. After an error the parser stays failed (the connection is
  // answered and closed).
  Result feed(std::string_view in);
  HttpRequest take();
  // True once per request that asked "Expect: 100-continue" (HTTP/1.1) and whose headers are
  // in, with a length within the limit, while its body is still to come: the caller writes
  // "100 Continue" so the client sends the body now rather than after its own timeout (curl
  // waits 1 s for every body over 1 MiB). Over the limit, the 413 goes instead (RFC 9110 §10.1.1).
  bool take_continue();
  // The current request's header section is complete (its body may still be coming).
  bool headers_done() const { return headers_done_; }
  // Bytes of the current request held here: its body so far (headers are capped by http-parser).
  std::size_t buffered() const { return current_.body.size(); }

 private:
  static int on_url(http_parser* p, const char* at, std::size_t len);
  static int on_header_field(http_parser* p, const char* at, std::size_t len);
  static int on_header_value(http_parser* p, const char* at, std::size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, std::size_t len);
  static int on_message_complete(http_parser* p);

  http_parser parser_{};
  http_parser_settings settings_{};
  std::size_t max_body_;
  HttpRequest current_;
  std::string header_field_;
  bool in_value_ = false;
  bool complete_ = false;
  bool too_large_ = false;
  bool expect_continue_ = false;  // the current request sent Expect: 100-continue
  bool continue_due_ = false;     // ... and take_continue() has not reported it yet
  bool failed_ = false;
  bool headers_done_ = false;         // past the header section: what follows are trailers
  unsigned seen_singletons_ = 0;      // bit i: kSingletons[i] was seen in this request
  std::string duplicate_header_;      // set when a singleton header came twice
};

}  // namespace ringpost::engine
