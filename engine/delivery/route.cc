// See route.h.
#include "engine/delivery/route.h"

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

namespace {
std::string address_of(const Endpoint& ep) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ep.addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_addr, text, sizeof text);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_addr, text, sizeof text);
  return text;
}
}  // namespace

CheckedRoute drop_blocked_endpoints(const RoutePtr& route, const std::vector<Cidr>& blocked_networks) {
  CheckedRoute out;
  if (!route || blocked_networks.empty()) {
    out.route = route;
    return out;
  }
  std::vector<Endpoint> allowed;
  const Endpoint* first_ep = nullptr;
  const Cidr* first_range = nullptr;
  for (const Endpoint& ep : route->endpoints) {
    const Cidr* range = blocked_by(blocked_networks, reinterpret_cast<const sockaddr*>(&ep.addr));
    if (!range) {
      allowed.push_back(ep);
      continue;
    }
    out.blocked.push_back(fmt::format("{} in {}", ep.label, range->text));
    if (!first_ep) {
      first_ep = &ep;
      first_range = range;
    }
  }
  if (out.blocked.empty()) {
    out.route = route;  // the common case: nothing copied
    return out;
  }
  if (!allowed.empty()) {
    auto r = std::make_shared<Route>(*route);  // same site key and expiry: the MX set did not change
    r->endpoints = std::move(allowed);
    out.route = std::move(r);
    return out;
  }
  // Permanent: the DNS says this is where the domain's mail goes, and the operator said this
  // server never connects there; retrying would only ask the same question again. X.7.1:
  // "delivery not authorized" (RFC 3463), the policy is ours, not the recipient's.
  const std::string ip = address_of(*first_ep);
  std::string text = ip == first_ep->host ? fmt::format("delivery to {} refused", ip)
                                          : fmt::format("delivery to {} ({}) refused", ip, first_ep->host);
  text += fmt::format(": address in [delivery] blocked_networks {}", first_range->text);
  if (out.blocked.size() > 1)
    text += fmt::format(" (and {} more blocked address{})", out.blocked.size() - 1, out.blocked.size() > 2 ? "es" : "");
  out.refused = smtp::Reply{550, "5.7.1", std::move(text)};
  return out;
}

}  // namespace ringpost::engine
