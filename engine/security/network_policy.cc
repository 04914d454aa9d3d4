// See network_policy.h.
#include "engine/security/network_policy.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>

namespace ringpost::engine {

bool Cidr::contains(int fam, const uint8_t* bytes) const {
  if (fam != family) return false;
  const unsigned full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(bytes, addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF00 >> rest);
  return (bytes[full] & mask) == (addr[full] & mask);
}

tl::expected<Cidr, std::string> parse_cidr(std::string_view text) {
  Cidr c;
  c.text = std::string(text);
  const std::size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  if (inet_pton(AF_INET, host.c_str(), c.addr.data()) == 1) c.family = AF_INET;
  else if (inet_pton(AF_INET6, host.c_str(), c.addr.data()) == 1) c.family = AF_INET6;
  else return tl::make_unexpected(fmt::format("'{}' is not an IPv4 or IPv6 network (like \"10.0.0.0/8\" or \"fe80::/10\")", text));
  const unsigned max = c.family == AF_INET ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos)
      return tl::make_unexpected(fmt::format("'{}': the prefix length must be a number from 0 to {}", text, max));
    prefix = static_cast<unsigned>(std::stoul(std::string(p)));
    if (prefix > max) return tl::make_unexpected(fmt::format("'{}': the prefix length must be a number from 0 to {}", text, max));
  }
  c.prefix = static_cast<uint8_t>(prefix);
  for (unsigned bit = prefix; bit < max; ++bit)
    if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
      return tl::make_unexpected(fmt::format("'{}' has host bits set; write the network address", text));
  return c;
}

std::vector<std::string> default_blocked_networks() {
  return {
      "0.0.0.0/8",        // "this network" (RFC 791); 0.0.0.0 reaches the local host on Linux
      "169.254.0.0/16",   // link-local: cloud metadata services live here
      "192.0.0.0/24",     // IETF protocol assignments
      "192.0.2.0/24",     // TEST-NET-1 (RFC 5737)
      "198.18.0.0/15",    // benchmarking (RFC 2544)
      "198.51.100.0/24",  // TEST-NET-2
      "203.0.113.0/24",   // TEST-NET-3
      "224.0.0.0/4",      // multicast
      "240.0.0.0/4",      // reserved, and 255.255.255.255 broadcast
      "::/128",           // unspecified
      "fe80::/10",        // link-local
      "ff00::/8",         // multicast
      "2001:db8::/32",    // documentation (RFC 3849)
      "100::/64",         // discard-only (RFC 6666)
  };
}

std::vector<Cidr> default_blocked_cidrs() {
  std::vector<Cidr> out;
  for (const std::string& t : default_blocked_networks()) out.push_back(*parse_cidr(t));
  return out;
}

const Cidr* blocked_by(const std::vector<Cidr>& list, const sockaddr* addr) {
  int fam = addr->sa_family;
  const uint8_t* bytes = nullptr;
  uint8_t mapped[4];
  if (fam == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
  } else if (fam == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    bytes = reinterpret_cast<const uint8_t*>(a6);
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      std::memcpy(mapped, bytes + 12, 4);
      bytes = mapped;
      fam = AF_INET;
    }
  } else {
    return nullptr;
  }
  for (const Cidr& c : list)
    if (c.contains(fam, bytes)) return &c;
  return nullptr;
}

}  // namespace ringpost::engine
