// Where delivery may connect (docs/security.md "Destinations"): a resolved MX or A/AAAA address
// inside [delivery] blocked_networks is never connected to, so a recipient domain whose MX
// points at 169.254.169.254 or 10.0.0.1 cannot make this server probe its own network. A static
// route set by the operator is exempt. Pure; immutable after load, read by every shard.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::engine {

struct Cidr {
  int family = AF_INET;            // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};  // network address, first 4 bytes for IPv4
  uint8_t prefix = 0;
  std::string text;                // as configured, for messages
  bool contains(int family, const uint8_t* bytes) const;
};

// "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128). Host bits must be zero.
tl::expected<Cidr, std::string> parse_cidr(std::string_view text);

// The default [delivery] blocked_networks: "this network", link-local, multicast, the
// documentation and benchmarking ranges, reserved and broadcast, v4 and v6. Loopback and the
// private ranges are not in it by default: single-host setups and tests deliver on them.
std::vector<std::string> default_blocked_networks();
// The same, parsed.
std::vector<Cidr> default_blocked_cidrs();

// The first range of `list` that holds `addr` (IPv4-mapped IPv6 addresses are judged as
// IPv4), or nullptr.
const Cidr* blocked_by(const std::vector<Cidr>& list, const sockaddr* addr);

// True when `domain` is an address literal "[...]" (RFC 5321 §4.1.3).
inline bool is_address_literal(std::string_view domain) { return !domain.empty() && domain.front() == '['; }

}  // namespace ringpost::engine
