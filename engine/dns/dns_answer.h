// Sans-IO parsing of DNS answers for mail routing (RFC 1035 wire format, RFC 5321 §5.1,
// RFC 7505 null MX): MX and address records with their TTLs, which c-ares' own parsers drop.
// Pure functions over a received message; any thread may call them.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ringpost::dns {

enum class Rcode : uint8_t { noerror, nxdomain, servfail, other, malformed };

struct MxRecord {
  uint16_t preference = 0;
  std::string host;  // lower case, no trailing dot; "" for the null MX target "."
  bool operator==(const MxRecord&) const = default;
};

struct MxAnswer {
  Rcode rcode = Rcode::malformed;
  std::vector<MxRecord> records;  // MX records of the answer section, in message order
  uint32_t ttl = 0;               // smallest MX TTL; for an empty answer the SOA minimum (RFC 2308)
  bool null_mx() const { return records.size() == 1 && records[0].host.empty(); }
};

struct AddressAnswer {
  Rcode rcode = Rcode::malformed;
  std::vector<in_addr> v4;
  std::vector<in6_addr> v6;
  uint32_t ttl = 0;  // smallest address TTL (CNAME chains included), or the SOA minimum
};

MxAnswer parse_mx_answer(std::span<const unsigned char> message);
// type: ns_t_a or ns_t_aaaa; CNAME records in the answer are followed implicitly (the
// server already put the target's addresses in the same answer).
AddressAnswer parse_address_answer(std::span<const unsigned char> message, int type);

}  // namespace ringpost::dns
