// See crafted_dns.h.
#include "tests/mx/crafted_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ringpost::mx_test {

bool parse_query(const unsigned char* p, std::size_t n, DnsQuery& out) {
  if (n < 12) return false;
  out.id = static_cast<uint16_t>((p[0] << 8) | p[1]);
  std::size_t at = 12;
  out.name.clear();
  while (at < n && p[at] != 0) {
    std::size_t len = p[at];
    if (len > 63 || at + 1 + len > n) return false;  // queries carry no compression pointers
    if (!out.name.empty()) out.name += '.';
    for (std::size_t i = 0; i < len; ++i) out.name += static_cast<char>(std::tolower(p[at + 1 + i]));
    at += 1 + len;
  }
  if (at + 5 > n) return false;
  out.type = static_cast<uint16_t>((p[at + 1] << 8) | p[at + 2]);
  return true;
}

tl::expected<std::unique_ptr<CraftedDns>, std::string> CraftedDns::start(Responder respond) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return tl::unexpected(fmt::format("bind 127.0.0.1:0 (udp): {}", why));
  }
  std::unique_ptr<CraftedDns> s(new CraftedDns(fd, ntohs(addr.sin_port), std::move(respond)));
  s->thread_ = std::thread([raw = s.get()] { raw->run(); });
  return s;
}

CraftedDns::~CraftedDns() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void CraftedDns::run() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;  // timeout: check stop_
    unsigned char buf[1500];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    DnsQuery q;
    if (!parse_query(buf, static_cast<std::size_t>(n), q)) continue;  // not worth an answer
    queries_.fetch_add(1);
    std::vector<unsigned char> reply = respond_(q);
    if (!reply.empty())
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace ringpost::mx_test
