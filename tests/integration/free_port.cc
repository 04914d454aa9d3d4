// Port picking by bind(0) and socket-table inspection via /proc/net/tcp{,6}.
#include "tests/integration/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace ringpost::it {
namespace {

std::error_code last_errno() { return {errno, std::generic_category()}; }

// One row of /proc/net/tcp: "sl local_address rem_address st ...", addresses as
// HEXIP:HEXPORT. State 0A is LISTEN, 01 is ESTABLISHED (include/net/tcp_states.h).
template <typename F>
void for_each_socket(F&& f) {
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
      f(static_cast<uint16_t>(port), state);
    }
  }
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

}  // namespace ringpost::it
