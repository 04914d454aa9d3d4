// Where a destination domain's mail goes: the ordered endpoints and the site key that names the
// connection pool. Domains whose MX host sets are equal get the same site (MX rollup, like
// PowerMTA's mx-rollup or KumoMTA's site names), so they share one pool and one set of limits,
// which lives on the shard that owns hash(site). Immutable once built; shared between shards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/security/network_policy.h"
#include "engine/delivery/smtp_connection.h"
#include "smtp/reply.h"

namespace ringpost::engine {

struct Route {
  std::string site;                 // "mx:a.mx.test,b.mx.test", "route:127.0.0.1:2526", "literal:127.0.0.9:25"
  std::vector<Endpoint> endpoints;  // in the order to try them (MX preference, then address family)
  int64_t expires_ms = 0;           // DNS TTL, clamped; static routes never expire
};

using RoutePtr = std::shared_ptr<const Route>;

// An endpoint for an IPv4 (family AF_INET, addr → in_addr) or IPv6 (AF_INET6, addr → in6_addr)
// address. `host` is the name the server should be (SNI, verification); the label reads
// "host[ip]:port" when the host is a name looked up in DNS, "ip:port" otherwise.
Endpoint make_endpoint(int family, const void* addr, uint16_t port, std::string host, bool name_in_label);

// [delivery] blocked_networks applied to a route found in DNS (MX hosts, an implicit MX) or
// written by the recipient (an address literal); an operator's static route is never checked
// (docs/security.md "Destinations"). Pure: the shard that routes the domain calls it once per
// answer, before the route is cached or handed to a site, so no blocked address reaches a
// connection.
struct CheckedRoute {
  RoutePtr route;      // the endpoints that may be used (the same pointer when none was blocked); null when all were
  smtp::Reply refused;  // when route is null: 550 5.7.1 naming the first blocked address and its range
  std::vector<std::string> blocked;  // "mx.example.test[169.254.169.254]:25 in 169.254.0.0/16", for the log
};
CheckedRoute drop_blocked_endpoints(const RoutePtr& route, const std::vector<Cidr>& blocked_networks);

}  // namespace ringpost::engine
