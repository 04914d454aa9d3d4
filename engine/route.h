// Where a destination domain's mail goes: the ordered endpoints and the site key that names the
// connection pool. Domains whose MX host sets are equal get the same site (MX rollup, like
// PowerMTA's mx-rollup or KumoMTA's site names), so they share one pool and one set of limits,
// which lives on the shard that owns hash(site). Immutable once built; shared between shards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/smtp_connection.h"

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

}  // namespace ringpost::engine
