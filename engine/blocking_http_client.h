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
  BlockingHttpClient(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  ~BlockingHttpClient();
  tl::expected<HttpResponse, std::string> request(const std::string& method, const std::string& target,
                                                  const std::string& body = {});

 private:
  tl::expected<void, std::string> connect();
  std::string host_;
  uint16_t port_;
  int fd_ = -1;
};

}  // namespace ringpost::engine
