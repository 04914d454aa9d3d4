// Test DNS records and their RFC 1035 §5 master-file form, as knotd loads it. Pure functions,
// no I/O, any thread. Invariant: every owner name and every domain name inside RDATA that this
// file writes is absolute (ends in '.'), so a test that writes "a.mx.test" never ends up with
// "a.mx.test.mx.test." through the zone's implicit $ORIGIN.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringpost::testing {

struct DnsRecord {
  std::string name;   // "two.mx.test"; a trailing dot is optional, case is kept as written
  std::string type;   // "MX", "A", "AAAA", "CNAME", "TXT", ... (any case)
  uint32_t ttl = 2;   // seconds
  std::string data;   // presentation format: "10 a.mx.test", "127.0.0.2", "::1", "0 ." (null MX)
};

// The form names are compared in: lower case, no trailing dot ("Two.MX.test." -> "two.mx.test").
// The root stays "".
std::string canonical_name(std::string_view name);
// `name` is `zone` or a name below it; both canonical.
bool name_in_zone(std::string_view name, std::string_view zone);
std::string canonical_type(std::string_view type);

// `data` with its domain-name fields made absolute: the exchange of MX, the target of CNAME, NS,
// PTR, DNAME and SRV. "10 a.mx.test" -> "10 a.mx.test."; "0 ." (RFC 7505 null MX) is unchanged.
// Other types are returned as written (quote TXT yourself).
std::string absolute_rdata(std::string_view type, std::string_view data);

// The SOA every zone gets. Its minimum (the RFC 2308 negative-caching TTL) and its own TTL are
// short so that a resolver with a cache sees a removed or added name within a test.
inline constexpr uint32_t kSoaTtl = 1;

// The whole master file of `zone` (canonical) at `serial`: SOA, an NS outside the zone (so no
// glue is needed and the zone holds no name a test did not add), then `records`, in the order
// given. The caller has already picked the records whose closest enclosing zone is `zone`.
std::string render_zone(std::string_view zone, uint32_t serial, std::span<const DnsRecord> records);

}  // namespace ringpost::testing
