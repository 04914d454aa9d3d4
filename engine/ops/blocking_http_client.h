// A minimal blocking HTTP/1.1 keep-alive client for the demo and tools (not for the engine's
// hot path, which never blocks). Responses are framed with http-parser like the server's.
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

namespace ringpost::engine {

struct HttpResponse {
  int status = 0;
  std::string body;
};

class BlockingHttpClient {
 public:
  // timeout_s > 0: a send or receive that waits longer fails (SO_SNDTIMEO / SO_RCVTIMEO).
  BlockingHttpClient(std::string host, uint16_t port, int timeout_s = 0)
      : host_(std::move(host)), port_(port), timeout_s_(timeout_s) {}
  ~BlockingHttpClient();
  // `extra_headers`: complete lines, "Name: value\r\n" each.
  tl::expected<HttpResponse, std::string> request(const std::string& method, const std::string& target,
                                                  const std::string& body = {}, const std::string& extra_headers = {});

 private:
  tl::expected<void, std::string> connect();
  std::string host_;
  uint16_t port_;
  int timeout_s_ = 0;
  int fd_ = -1;
};

}  // namespace ringpost::engine
