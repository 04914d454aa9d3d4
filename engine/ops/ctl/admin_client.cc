// See admin_client.h.
#include "engine/ops/ctl/admin_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <charconv>
#include <memory>

#include <fmt/format.h>

#include "engine/ops/ctl/views.h"

namespace ringpost::ctl {

tl::expected<ServerUrl, std::string> parse_server_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme))
    return tl::make_unexpected(fmt::format("--server '{}': expected http://host[:port]", url));
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    return tl::make_unexpected(fmt::format("--server '{}': no path expected after host[:port]", url));
  ServerUrl out;
  std::string_view host = rest;
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    std::string_view port = rest.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
      return tl::make_unexpected(fmt::format("--server '{}': '{}' is not a port", url, port));
    out.port = static_cast<uint16_t>(p);
  }
  if (host.empty()) return tl::make_unexpected(fmt::format("--server '{}': no host", url));
  out.host = std::string(host);
  return out;
}

std::string path_segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || c == '@' || c == '[' || c == ']' || c == ':')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

AdminClient::AdminClient(ServerUrl url, std::string token, int timeout_s)
    : url_(std::move(url)), token_(std::move(token)), timeout_s_(timeout_s) {}

tl::expected<std::string, CallError> AdminClient::call(const std::string& method, const std::string& target,
                                                       const std::string& body) {
  if (!http_) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(url_.host.c_str(), nullptr, &hints, &res); rc != 0 || !res)
      return tl::make_unexpected(CallError{kUnreachable, fmt::format("cannot resolve {}: {}", url_.host, gai_strerror(rc))});
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
    ::freeaddrinfo(res);
    address_ = buf;
    http_ = std::make_unique<engine::BlockingHttpClient>(address_, url_.port, timeout_s_);
  }
  const std::string auth = token_.empty() ? std::string() : fmt::format("Authorization: Bearer {}\r\n", token_);
  auto resp = http_->request(method, target, body, auth);
  if (!resp)
    return tl::make_unexpected(CallError{
        kUnreachable, fmt::format("cannot reach ringpost at http://{}:{}: {}", url_.host, url_.port, resp.error())});
  if (resp->status < 200 || resp->status > 299)
    return tl::make_unexpected(CallError{kRefused, fmt::format("{} {}: {}", method, target, error_text(resp->status, resp->body))});
  return std::move(resp->body);
}

}  // namespace ringpost::ctl
