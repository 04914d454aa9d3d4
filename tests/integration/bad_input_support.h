// Helpers for bad_input_test.cc: request bodies, error-body checks, and a raw keep-alive
// connection that writes bytes exactly as given (several requests in one send, or headers
// without their body) and frames the responses that come back. Owned by one test thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/http_client.h"

namespace ringpost::it {

std::string good_message(std::string_view rcpt);
std::string message_with_text(std::string_view rcpt, std::string_view text);
std::string batch_of(const std::vector<std::string>& items);
// "id" of a 202 answer to POST /v1/messages ("" if absent).
std::string id_of(std::string_view body);
// error.limit as {name, value}; {"", -1} when absent.
std::pair<std::string, int64_t> limit_of(std::string_view body);

// Asserts the status, the JSON Content-Type and error.code (and error.field unless `field` is
// null).
void expect_error(const HttpResponse& r, int status, std::string_view code, const char* field = nullptr);

class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(std::string_view bytes);
  // Up to `n` complete responses (Content-Length framed); fewer if the server closes or 30 s pass.
  std::vector<HttpResponse> read_responses(std::size_t n);
  // True once the server has closed its side (read returns 0 or a reset) within 10 s.
  bool closed_by_server();
  // Everything received and not yet framed, for failure messages.
  const std::string& received() const { return buf_; }

 private:
  bool fill();  // one recv into buf_; false on EOF, error or timeout

  int fd_ = -1;
  std::string buf_;
};

}  // namespace ringpost::it
