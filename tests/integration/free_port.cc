// Port picking by bind(0) and socket-table inspection via /proc/net/tcp{,6}.
#include "tests/integration/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace ringpost::it {
namespace {

std::error_code last_errno() { return {errno, std::generic_category()}; }

// An IPv4 address as IPv4-mapped IPv6, so one comparison covers both tables.
in6_addr mapped(const in_addr& a) {
  in6_addr out{};
  out.s6_addr[10] = 0xff;
  out.s6_addr[11] = 0xff;
  std::memcpy(&out.s6_addr[12], &a, 4);
  return out;
}

// The address part of a /proc/net/tcp{,6} column. The kernel prints each 32-bit word of the
// address (network byte order in memory) with %08X as a host-order integer, so reading the
// hex back into a native uint32_t restores the bytes as they were in memory.
bool parse_proc_address(const std::string& hex, in6_addr& out) {
  auto word = [&](std::size_t i) { return static_cast<uint32_t>(std::strtoul(hex.substr(i * 8, 8).c_str(), nullptr, 16)); };
  if (hex.size() == 8) {
    uint32_t w = word(0);
    in_addr a;
    std::memcpy(&a, &w, 4);
    out = mapped(a);
    return true;
  }
  if (hex.size() == 32) {
    for (std::size_t i = 0; i < 4; ++i) {
      uint32_t w = word(i);
      std::memcpy(&out.s6_addr[i * 4], &w, 4);
    }
    return true;
  }
  return false;
}

bool parse_ip(std::string_view ip, in6_addr& out) {
  std::string s(ip);
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out = mapped(v4);
    return true;
  }
  return inet_pton(AF_INET6, s.c_str(), &out) == 1;
}

// One row of /proc/net/tcp: "sl local_address rem_address st ...", addresses as
// HEXIP:HEXPORT. State 0A is LISTEN, 01 is ESTABLISHED (include/net/tcp_states.h).
// f(port, state, local address, remote column) per socket. The tables are read in pages, not
// as one snapshot: while sockets come and go (another test opening thousands), a row can be
// read twice, so counters dedupe on the connection's two ends.
template <typename F>
void for_each_socket_with_address(F&& f) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string slot, local, remote, state;
      if (!(row >> slot >> local >> remote >> state)) continue;
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      unsigned port = std::stoul(local.substr(colon + 1), nullptr, 16);
      in6_addr addr{};
      if (!parse_proc_address(local.substr(0, colon), addr)) continue;
      f(static_cast<uint16_t>(port), state, addr, remote);
    }
  }
}

template <typename F>
void for_each_socket(F&& f) {
  for_each_socket_with_address(
      [&](uint16_t port, const std::string& state, const in6_addr&, const std::string&) { f(port, state); });
}

int count_sockets(uint16_t port, std::string_view ip, const char* want_state) {
  in6_addr want;
  if (!parse_ip(ip, want)) return 0;
  std::set<std::string> remotes;  // one local address and port: the remote end tells connections apart
  for_each_socket_with_address([&](uint16_t local, const std::string& state, const in6_addr& addr,
                                   const std::string& remote) {
    if (local == port && state == want_state && std::memcmp(&addr, &want, sizeof want) == 0) remotes.insert(remote);
  });
  return static_cast<int>(remotes.size());
}

}  // namespace

tl::expected<std::vector<uint16_t>, std::error_code> pick_free_ports(int count) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  auto close_all = [&] {
    for (int fd : fds) ::close(fd);
  };
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      auto ec = last_errno();
      close_all();
      return tl::unexpected(ec);
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      auto ec = last_errno();
      close_all();
      return tl::unexpected(ec);
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  close_all();
  return ports;
}

tl::expected<uint16_t, std::error_code> pick_free_port() {
  auto ports = pick_free_ports(1);
  if (!ports) return tl::unexpected(ports.error());
  return ports->front();
}

bool port_is_listening(uint16_t port) {
  bool found = false;
  for_each_socket([&](uint16_t local, const std::string& state) {
    if (local == port && state == "0A") found = true;
  });
  return found;
}

int established_connections_to(uint16_t port) {
  int n = 0;
  for_each_socket([&](uint16_t local, const std::string& state) {
    if (local == port && state == "01") ++n;
  });
  return n;
}

bool port_is_listening(uint16_t port, std::string_view ip) { return count_sockets(port, ip, "0A") > 0; }

int established_connections_to(uint16_t port, std::string_view ip) { return count_sockets(port, ip, "01"); }

}  // namespace ringpost::it
