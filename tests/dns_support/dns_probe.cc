// A minimal DNS client for one question: SOA IN, over a connected UDP socket (RFC 1035 §4.1-4.2).
#include "tests/dns_support/dns_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace ringpost::testing {
namespace {

constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kClassIn = 1;
constexpr std::size_t kHeaderSize = 12;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}

tl::expected<std::vector<uint8_t>, std::string> build_query(uint16_t id, std::string_view zone) {
  std::vector<uint8_t> q;
  put16(q, id);
  put16(q, 0);  // opcode QUERY, RD clear: we ask the authority itself
  put16(q, 1);  // QDCOUNT
  put16(q, 0);
  put16(q, 0);
  put16(q, 0);
  std::size_t pos = 0;
  while (pos < zone.size()) {
    auto dot = zone.find('.', pos);
    if (dot == std::string_view::npos) dot = zone.size();
    const auto label = zone.substr(pos, dot - pos);
    if (label.empty() || label.size() > 63) return tl::unexpected(fmt::format("bad zone name '{}'", zone));
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    pos = dot + 1;
  }
  q.push_back(0);
  put16(q, kTypeSoa);
  put16(q, kClassIn);
  return q;
}

// Steps over a possibly compressed name (RFC 1035 §4.1.4) in place; the pointer target is never
// needed here, only where the name ends. nullopt when it runs past the message.
std::optional<std::size_t> skip_name(const std::vector<uint8_t>& m, std::size_t pos) {
  while (pos < m.size()) {
    const uint8_t len = m[pos];
    if (len == 0) return pos + 1;
    if ((len & 0xc0) == 0xc0) return pos + 2 <= m.size() ? std::optional(pos + 2) : std::nullopt;
    pos += 1 + len;
  }
  return std::nullopt;
}

tl::expected<uint32_t, std::string> parse_serial(const std::vector<uint8_t>& m, uint16_t id) {
  if (m.size() < kHeaderSize || get16(m.data()) != id) return tl::unexpected(std::string("malformed reply"));
  const uint16_t flags = get16(m.data() + 2);
  if ((flags & 0x8000) == 0) return tl::unexpected(std::string("reply without QR"));
  if (const int rcode = flags & 0xf; rcode != 0) return tl::unexpected(fmt::format("rcode {}", rcode));
  const uint16_t qd = get16(m.data() + 4);
  const uint16_t an = get16(m.data() + 6);
  std::size_t pos = kHeaderSize;
  for (uint16_t i = 0; i < qd; ++i) {
    auto end = skip_name(m, pos);
    if (!end || *end + 4 > m.size()) return tl::unexpected(std::string("truncated question"));
    pos = *end + 4;
  }
  for (uint16_t i = 0; i < an; ++i) {
    auto end = skip_name(m, pos);
    if (!end || *end + 10 > m.size()) return tl::unexpected(std::string("truncated answer"));
    const uint16_t type = get16(m.data() + *end);
    const uint16_t rdlength = get16(m.data() + *end + 8);
    const std::size_t rdata = *end + 10;
    if (rdata + rdlength > m.size()) return tl::unexpected(std::string("truncated rdata"));
    if (type == kTypeSoa) {
      // SOA RDATA: MNAME, RNAME, then SERIAL (RFC 1035 §3.3.13).
      auto after_mname = skip_name(m, rdata);
      auto after_rname = after_mname ? skip_name(m, *after_mname) : std::nullopt;
      if (!after_rname || *after_rname + 4 > rdata + rdlength) return tl::unexpected(std::string("bad SOA"));
      return get32(m.data() + *after_rname);
    }
    pos = rdata + rdlength;
  }
  return tl::unexpected(std::string("no SOA in the answer"));
}

}  // namespace

tl::expected<uint32_t, std::string> query_soa_serial(const std::string& ip, uint16_t port, std::string_view zone,
                                                     std::chrono::milliseconds timeout) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    return tl::unexpected(fmt::format("not an IP address: '{}'", ip));
  }

  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto id = static_cast<uint16_t>(rng());
  auto query = build_query(id, zone);
  if (!query) return tl::unexpected(query.error());

  Fd fd(::socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  // Connected, so that the kernel hands us the ICMP port-unreachable as ECONNREFUSED: a server
  // that is not up yet fails fast instead of costing the whole timeout.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return tl::unexpected(fmt::format("connect: {}", std::strerror(errno)));
  }
  if (::send(fd.get(), query->data(), query->size(), 0) < 0) {
    return tl::unexpected(fmt::format("send: {}", std::strerror(errno)));
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<uint8_t> reply(4096);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return tl::unexpected(std::string("no reply (timeout)"));
    pollfd p{fd.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return tl::unexpected(fmt::format("poll: {}", std::strerror(errno)));
    if (ready == 0) continue;  // the deadline check above ends the loop
    const ssize_t n = ::recv(fd.get(), reply.data(), reply.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(fmt::format("recv: {}", std::strerror(errno)));
    std::vector<uint8_t> msg(reply.begin(), reply.begin() + n);
    // A stray datagram with another id (a late reply to an earlier probe cannot reach this
    // fresh socket, but be strict anyway) is skipped, not taken as the answer.
    if (msg.size() >= 2 && get16(msg.data()) != id) continue;
    return parse_serial(msg, id);
  }
}

}  // namespace ringpost::testing
