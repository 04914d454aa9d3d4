// An authoritative DNS server in memory, for MxResolver unit tests: c-ares' socket calls
// (ares_set_socket_functions) land here instead of in the network stack, so no packet is sent
// and no time passes. Single-threaded (the test's). Invariant: each of c-ares' "sockets" is an
// eventfd that is readable exactly while answers wait in its inbox, so the resolver's real
// IORING_OP_POLL_ADD path sees them as it would a UDP socket's datagrams.
#pragma once

#include <ares.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringpost::testing {

class InMemoryDns {
 public:
  struct Query {
    uint16_t id = 0;
    std::string name;  // as on the wire, no trailing dot
    uint16_t type = 0;
    int fd = -1;  // the socket it came on, where the answer goes
  };

  InMemoryDns();
  ~InMemoryDns();
  InMemoryDns(const InMemoryDns&) = delete;
  InMemoryDns& operator=(const InMemoryDns&) = delete;

  // For MxResolver::set_socket_functions(&dns.functions(), &dns).
  const ares_socket_functions& functions() const;

  // The zone. A name with a forced rcode answers every query with it (NXDOMAIN and NOERROR
  // without records carry the zone's SOA in the authority section, RFC 2308 §3).
  void mx(std::string name, uint32_t ttl, uint16_t preference, std::string host);
  void a(std::string name, uint32_t ttl, std::string ip);
  void aaaa(std::string name, uint32_t ttl, std::string ip);
  void rcode(std::string name, uint8_t rcode);
  void soa(uint32_t ttl, uint32_t minimum);

  // Held queries are answered only when the test says so, which is how a test keeps lookups
  // in flight and sees what is outstanding from the server's side.
  void hold(bool on) { hold_ = on; }
  const std::deque<Query>& held() const { return held_; }
  void answer_oldest();

  const std::vector<Query>& queries() const { return queries_; }  // every query received, in order
  std::size_t count(std::string_view name, uint16_t type) const;
  std::size_t open_sockets() const { return sockets_.size(); }

 private:
  struct Record {
    std::string name;
    uint16_t type;
    uint32_t ttl;
    uint16_t preference;  // MX only
    std::string value;    // MX host or address text
  };
  struct Socket {
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    std::deque<std::vector<unsigned char>> inbox;  // answers not yet read, one datagram each
  };

  void answer(const Query& q);
  std::vector<unsigned char> response(const Query& q) const;

  static ares_socket_t on_socket(int family, int type, int protocol, void* self);
  static int on_close(ares_socket_t fd, void* self);
  static int on_connect(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void* self);
  static ares_ssize_t on_recvfrom(ares_socket_t fd, void* buf, size_t len, int flags, sockaddr* from,
                                  ares_socklen_t* from_len, void* self);
  static ares_ssize_t on_sendv(ares_socket_t fd, const iovec* iov, int n, void* self);

  std::vector<Record> records_;
  std::map<std::string, uint8_t> rcodes_;
  uint32_t soa_ttl_ = 3600, soa_minimum_ = 300;
  bool hold_ = false;
  std::deque<Query> held_;
  std::vector<Query> queries_;
  std::map<int, Socket> sockets_;
};

}  // namespace ringpost::testing
