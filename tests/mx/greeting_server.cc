// See greeting_server.h.
#include "tests/mx/greeting_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace ringpost::mx_test {
namespace {
constexpr int kPollMs = 50;
// How long one connection may stay open after the greeting: the client should send QUIT (or
// just close) at once; a client that does neither is cut off so the loop stays bounded.
constexpr auto kSessionLimit = std::chrono::seconds(2);
}  // namespace

tl::expected<std::unique_ptr<GreetingServer>, std::string> GreetingServer::start(const std::string& ip, uint16_t port,
                                                                                 std::string greeting) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return tl::unexpected(fmt::format("bad IPv4 address {}", ip));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return tl::unexpected(fmt::format("bind/listen {}:{}: {}", ip, port, why));
  }
  std::unique_ptr<GreetingServer> s(new GreetingServer(fd, std::move(greeting)));
  s->thread_ = std::thread([raw = s.get()] { raw->run(); });
  return s;
}

GreetingServer::~GreetingServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void GreetingServer::run() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;  // timeout (check stop_) or EINTR
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;  // e.g. the client gave up before we accepted
    connections_.fetch_add(1);
    serve(conn);
    ::close(conn);
  }
}

void GreetingServer::serve(int conn) {
  std::string line = greeting_ + "\r\n";
  if (::send(conn, line.data(), line.size(), MSG_NOSIGNAL) < 0) return;
  // RFC 5321 §3.1: after a 421 greeting the client should send QUIT; answer it politely.
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + kSessionLimit;
  while (!stop_.load() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    char buf[512];
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n <= 0) return;  // the client closed
    in.append(buf, static_cast<std::size_t>(n));
    if (in.find("QUIT") != std::string::npos || in.find("quit") != std::string::npos) {
      static constexpr char kBye[] = "221 2.0.0 bye\r\n";
      ::send(conn, kBye, sizeof kBye - 1, MSG_NOSIGNAL);
      return;
    }
    if (in.find('\n') != std::string::npos) {
      // Anything else after a refusal greeting is answered like a real server would.
      static constexpr char kNo[] = "503 5.5.1 service not available\r\n";
      ::send(conn, kNo, sizeof kNo - 1, MSG_NOSIGNAL);
      in.clear();
    }
  }
}

}  // namespace ringpost::mx_test
