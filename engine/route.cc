// See route.h.
#include "engine/route.h"

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>

namespace ringpost::engine {

Endpoint make_endpoint(int family, const void* addr, uint16_t port, std::string host, bool name_in_label) {
  Endpoint ep;
  char text[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    std::memcpy(&v4->sin_addr, addr, sizeof v4->sin_addr);
    ep.len = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    std::memcpy(&v6->sin6_addr, addr, sizeof v6->sin6_addr);
    ep.len = sizeof(sockaddr_in6);
  }
  inet_ntop(family, addr, text, sizeof text);
  ep.label = name_in_label ? fmt::format("{}[{}]:{}", host, text, port) : fmt::format("{}:{}", host, port);
  ep.host = std::move(host);
  return ep;
}

}  // namespace ringpost::engine
