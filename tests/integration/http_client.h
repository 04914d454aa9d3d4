// A blocking HTTP/1.1 client for tests: one keep-alive TCP connection to 127.0.0.1:port,
// requests sent one at a time, responses framed by Content-Length (or chunked, or EOF).
// Owned by one thread. Invariant: a request either returns a complete response or an error;
// after an error or a "Connection: close" the socket is dropped and the next request
// reconnects, and connections_opened() counts every connect so tests can assert reuse.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::it {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool server_closes = false;  // "Connection: close", or framed by EOF

  // First header with this (lower-case) name, or "".
  std::string header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // Errors are strings: these are test diagnostics, read by a person, not dispatched on.
  tl::expected<HttpResponse, std::string> request(std::string_view method, std::string_view target,
                                                  std::string_view body = {},
                                                  std::string_view content_type = {});
  tl::expected<HttpResponse, std::string> get(std::string_view target) { return request("GET", target); }
  tl::expected<HttpResponse, std::string> post_json(std::string_view target, std::string_view body) {
    return request("POST", target, body, "application/json");
  }

  // Sent with every later request, e.g. ("Authorization", "Bearer <key>"); empty value removes.
  void set_header(std::string name, std::string value);

  int connections_opened() const { return connections_opened_; }
  void close();

 private:
  tl::expected<void, std::string> connect();
  tl::expected<void, std::string> send_all(std::string_view bytes);
  // Reads until `buf_` holds at least `n` bytes; false on EOF.
  tl::expected<bool, std::string> fill(std::size_t n);
  tl::expected<HttpResponse, std::string> read_response(std::string_view method);
  tl::expected<std::string, std::string> read_chunked();

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  int connections_opened_ = 0;
  std::string buf_;  // bytes received and not yet consumed
  std::vector<std::pair<std::string, std::string>> extra_headers_;
};

}  // namespace ringpost::it
