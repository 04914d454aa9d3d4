// The HTTP side of `ringpost ctl`: where the server is (--server URL), the bearer token, and
// one call = one request whose outcome is already sorted into ctl's exit codes. Blocking; used
// only by the ctl command on the main thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/ops/blocking_http_client.h"

namespace ringpost::ctl {

// Exit codes of `ringpost ctl` (docs/operating.md): scripts branch on them.
enum ExitCode : int { kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

struct ServerUrl {
  std::string host;  // as written (a name or an IPv4 literal)
  uint16_t port = 80;
};
// "http://host[:port][/]"; https and paths are refused (the admin API is plain HTTP on
// loopback or a private network).
tl::expected<ServerUrl, std::string> parse_server_url(std::string_view url);

struct CallError {
  int exit_code = kRefused;
  std::string message;
};

class AdminClient {
 public:
  // timeout_s bounds each send/receive; a long poll needs more than its `wait`.
  AdminClient(ServerUrl url, std::string token, int timeout_s);

  // 2xx → the body. Another status → kRefused with the server's error.message; no answer at
  // all (refused, reset, timed out, name not found) → kUnreachable.
  tl::expected<std::string, CallError> call(const std::string& method, const std::string& target,
                                            const std::string& body = {});

 private:
  ServerUrl url_;
  std::string token_;
  int timeout_s_;
  std::string address_;  // url_.host resolved once, IPv4 (what BlockingHttpClient speaks)
  std::unique_ptr<engine::BlockingHttpClient> http_;
};

// Percent-encodes a path segment (a domain or message id typed by an operator).
std::string path_segment(std::string_view s);

}  // namespace ringpost::ctl
