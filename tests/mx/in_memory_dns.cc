// See in_memory_dns.h. Queries are parsed with libresolv (as engine/dns parses answers); answers
// are written with tests/dns's MessageBuilder.
#include "tests/mx/in_memory_dns.h"

#include <arpa/nameser.h>
#include <resolv.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "tests/dns/dns_message_builder.h"

namespace ringpost::testing {
namespace {

using dns::wire::MessageBuilder;
using dns::wire::Section;

// Every name the tests use lives under one zone, whose SOA a negative answer carries.
constexpr std::string_view kZone = "test";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

InMemoryDns::InMemoryDns() = default;

InMemoryDns::~InMemoryDns() {
  // Sockets c-ares never closed (a resolver still alive): the fds are ours to release.
  for (auto& [fd, s] : sockets_) ::close(fd);
}

const ares_socket_functions& InMemoryDns::functions() const {
  static const ares_socket_functions kFunctions{&InMemoryDns::on_socket, &InMemoryDns::on_close,
                                                &InMemoryDns::on_connect, &InMemoryDns::on_recvfrom,
                                                &InMemoryDns::on_sendv};
  return kFunctions;
}

void InMemoryDns::mx(std::string name, uint32_t ttl, uint16_t preference, std::string host) {
  records_.push_back({lower(std::move(name)), dns::wire::kTypeMx, ttl, preference, std::move(host)});
}
void InMemoryDns::a(std::string name, uint32_t ttl, std::string ip) {
  records_.push_back({lower(std::move(name)), dns::wire::kTypeA, ttl, 0, std::move(ip)});
}
void InMemoryDns::aaaa(std::string name, uint32_t ttl, std::string ip) {
  records_.push_back({lower(std::move(name)), dns::wire::kTypeAaaa, ttl, 0, std::move(ip)});
}
void InMemoryDns::rcode(std::string name, uint8_t rcode) { rcodes_[lower(std::move(name))] = rcode; }
void InMemoryDns::soa(uint32_t ttl, uint32_t minimum) {
  soa_ttl_ = ttl;
  soa_minimum_ = minimum;
}

std::size_t InMemoryDns::count(std::string_view name, uint16_t type) const {
  return static_cast<std::size_t>(std::count_if(queries_.begin(), queries_.end(), [&](const Query& q) {
    return q.type == type && lower(q.name) == lower(std::string(name));
  }));
}

void InMemoryDns::answer_oldest() {
  if (held_.empty()) return ADD_FAILURE() << "no held query to answer";
  Query q = std::move(held_.front());
  held_.pop_front();
  answer(q);
}

std::vector<unsigned char> InMemoryDns::response(const Query& q) const {
  std::string name = lower(q.name);
  auto forced = rcodes_.find(name);
  uint8_t rc = forced == rcodes_.end() ? dns::wire::kNoError : forced->second;
  MessageBuilder b(rc, q.id);
  // c-ares drops an answer whose question is not the one it asked (same_questions).
  b.question(q.name, q.type);
  bool any = false;
  if (rc == dns::wire::kNoError)
    for (const Record& r : records_) {
      if (r.name != name || r.type != q.type) continue;
      any = true;
      if (r.type == dns::wire::kTypeMx) b.mx(Section::answer, q.name, r.ttl, r.preference, r.value);
      else if (r.type == dns::wire::kTypeA) b.a(Section::answer, q.name, r.ttl, r.value.c_str());
      else b.aaaa(Section::answer, q.name, r.ttl, r.value.c_str());
    }
  if (!any && (rc == dns::wire::kNoError || rc == dns::wire::kNxDomain))
    b.soa(Section::authority, kZone, soa_ttl_, soa_minimum_);
  return b.bytes();
}

void InMemoryDns::answer(const Query& q) {
  auto it = sockets_.find(q.fd);
  if (it == sockets_.end()) return;  // c-ares closed the socket meanwhile: the datagram is lost
  it->second.inbox.push_back(response(q));
  uint64_t one = 1;
  if (::write(q.fd, &one, sizeof one) != sizeof one) ADD_FAILURE() << "eventfd write: " << std::strerror(errno);
}

ares_socket_t InMemoryDns::on_socket(int, int type, int, void* self) {
  // An answer that fits in a datagram never sends c-ares to TCP; if one ever asks, the test is
  // not testing what it thinks.
  if (type != SOCK_DGRAM) {
    ADD_FAILURE() << "c-ares asked for a socket of type " << type << "; this server speaks UDP only";
    errno = EPROTONOSUPPORT;
    return ARES_SOCKET_BAD;
  }
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return ARES_SOCKET_BAD;
  static_cast<InMemoryDns*>(self)->sockets_[fd] = Socket{};
  return fd;
}

int InMemoryDns::on_close(ares_socket_t fd, void* self) {
  static_cast<InMemoryDns*>(self)->sockets_.erase(fd);
  return ::close(fd);
}

int InMemoryDns::on_connect(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void* self) {
  auto& sockets = static_cast<InMemoryDns*>(self)->sockets_;
  auto it = sockets.find(fd);
  if (it == sockets.end() || len > sizeof(sockaddr_storage)) {
    errno = EBADF;
    return -1;
  }
  std::memcpy(&it->second.peer, addr, len);
  it->second.peer_len = len;
  return 0;
}

ares_ssize_t InMemoryDns::on_recvfrom(ares_socket_t fd, void* buf, size_t len, int, sockaddr* from,
                                      ares_socklen_t* from_len, void* self) {
  auto& sockets = static_cast<InMemoryDns*>(self)->sockets_;
  auto it = sockets.find(fd);
  if (it == sockets.end()) {
    errno = EBADF;
    return -1;
  }
  Socket& s = it->second;
  // c-ares reads until EAGAIN; a 0 would be taken for a dead connection.
  if (s.inbox.empty()) {
    errno = EAGAIN;
    return -1;
  }
  std::vector<unsigned char> datagram = std::move(s.inbox.front());
  s.inbox.pop_front();
  // Level-triggered like a socket: not readable once the last datagram is taken.
  if (s.inbox.empty()) {
    uint64_t n;
    (void)::read(fd, &n, sizeof n);
  }
  std::size_t take = std::min(len, datagram.size());  // UDP: the rest of a long datagram is lost
  std::memcpy(buf, datagram.data(), take);
  // c-ares ignores an answer from any address but the server's (a spoofing guard).
  if (from && from_len) {
    std::memcpy(from, &s.peer, std::min<std::size_t>(*from_len, s.peer_len));
    *from_len = s.peer_len;
  }
  return static_cast<ares_ssize_t>(take);
}

ares_ssize_t InMemoryDns::on_sendv(ares_socket_t fd, const iovec* iov, int n, void* self_arg) {
  auto* self = static_cast<InMemoryDns*>(self_arg);
  if (!self->sockets_.contains(fd)) {
    errno = EBADF;
    return -1;
  }
  std::vector<unsigned char> msg;
  for (int i = 0; i < n; ++i) {
    const auto* p = static_cast<const unsigned char*>(iov[i].iov_base);
    msg.insert(msg.end(), p, p + iov[i].iov_len);
  }
  ns_msg parsed;
  ns_rr question;
  if (ns_initparse(msg.data(), static_cast<int>(msg.size()), &parsed) < 0 ||
      ns_parserr(&parsed, ns_s_qd, 0, &question) < 0) {
    ADD_FAILURE() << "c-ares sent a query this server cannot parse (" << msg.size() << " bytes)";
    return static_cast<ares_ssize_t>(msg.size());
  }
  Query q{ns_msg_id(parsed), ns_rr_name(question), static_cast<uint16_t>(ns_rr_type(question)), fd};
  self->queries_.push_back(q);
  if (self->hold_) self->held_.push_back(std::move(q));
  else self->answer(q);
  return static_cast<ares_ssize_t>(msg.size());
}

}  // namespace ringpost::testing
