// See blocking_http_client.h.
#include "engine/ops/blocking_http_client.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ringpost::engine {
namespace {
struct ResponseState {
  HttpResponse resp;
  bool done = false;
};
}  // namespace

BlockingHttpClient::~BlockingHttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

tl::expected<void, std::string> BlockingHttpClient::connect() {
  if (fd_ >= 0) return {};
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    std::string err = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return tl::make_unexpected(fmt::format("connect {}:{}: {}", host_, port_, err));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (timeout_s_ > 0) {
    timeval tv{};
    tv.tv_sec = timeout_s_;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return {};
}

tl::expected<HttpResponse, std::string> BlockingHttpClient::request(const std::string& method,
                                                                    const std::string& target,
                                                                    const std::string& body,
                                                                    const std::string& extra_headers) {
  if (auto r = connect(); !r) return tl::make_unexpected(r.error());
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
                                method, target, host_, body.size(), extra_headers);
  req += body;
  for (std::size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      return tl::make_unexpected(fmt::format("send: {}", std::strerror(errno)));
    }
    off += static_cast<std::size_t>(n);
  }
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  ResponseState st;
  parser.data = &st;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_body = [](http_parser* p, const char* at, std::size_t len) {
    static_cast<ResponseState*>(p->data)->resp.body.append(at, len);
    return 0;
  };
  settings.on_message_complete = [](http_parser* p) {
    auto* s = static_cast<ResponseState*>(p->data);
    s->resp.status = static_cast<int>(p->status_code);
    s->done = true;
    return 0;
  };
  char buf[65536];
  while (!st.done) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      if (n == 0) http_parser_execute(&parser, &settings, buf, 0);  // EOF may end a close-delimited body
      if (st.done) break;
      return tl::make_unexpected("connection closed before a full response");
    }
    http_parser_execute(&parser, &settings, buf, static_cast<std::size_t>(n));
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) return tl::make_unexpected("malformed HTTP response");
  }
  return st.resp;
}

}  // namespace ringpost::engine
