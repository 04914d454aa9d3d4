// See dns_answer.h. Parsing is done with glibc's libresolv (ns_initparse / ns_parserr /
// dn_expand), a well-kept parser for the RR framing; only the choice of which records and TTL
// to keep is ours.
#include "engine/dns/dns_answer.h"

#include <arpa/nameser.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>

namespace ringpost::dns {
namespace {

Rcode rcode_of(const ns_msg& msg) {
  switch (ns_msg_getflag(msg, ns_f_rcode)) {
    case ns_r_noerror: return Rcode::noerror;
    case ns_r_nxdomain: return Rcode::nxdomain;
    case ns_r_servfail: return Rcode::servfail;
    default: return Rcode::other;
  }
}

std::string lower_no_dot(const char* name) {
  std::string s(name);
  if (!s.empty() && s.back() == '.') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM).
uint32_t negative_ttl(ns_msg& msg) {
  uint32_t ttl = 0;
  for (int i = 0; i < ns_msg_count(msg, ns_s_ns); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_ns, i, &rr) < 0 || ns_rr_type(rr) != ns_t_soa) continue;
    // SOA rdata: mname, rname (compressed names), then serial refresh retry expire minimum.
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    char name[NS_MAXDNAME];
    for (int n = 0; n < 2; ++n) {
      int len = dn_expand(ns_msg_base(msg), ns_msg_end(msg), p, name, sizeof name);
      if (len < 0) return 0;
      p += len;
    }
    if (end - p < 20) return 0;
    uint32_t minimum = (uint32_t(p[16]) << 24) | (uint32_t(p[17]) << 16) | (uint32_t(p[18]) << 8) | p[19];
    ttl = std::min<uint32_t>(ns_rr_ttl(rr), minimum);
  }
  return ttl;
}

// A damaged message yields nothing, not the records read before the damage: a partial answer
// could turn a real MX set into "no MX" (implicit MX) or into a lone "0 ." (null MX bounce).
MxAnswer malformed_mx() { return MxAnswer{}; }

}  // namespace

MxAnswer parse_mx_answer(std::span<const unsigned char> message) {
  MxAnswer out;
  ns_msg msg;
  if (ns_initparse(message.data(), static_cast<int>(message.size()), &msg) < 0) return out;
  out.rcode = rcode_of(msg);
  bool first = true;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) return malformed_mx();
    if (ns_rr_type(rr) != ns_t_mx) continue;  // e.g. the CNAME that led here
    if (ns_rr_rdlen(rr) < 3) return malformed_mx();
    const unsigned char* rd = ns_rr_rdata(rr);
    char name[NS_MAXDNAME];
    if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 2, name, sizeof name) < 0) return malformed_mx();
    MxRecord r;
    r.preference = static_cast<uint16_t>((rd[0] << 8) | rd[1]);
    r.host = lower_no_dot(name);
    out.records.push_back(std::move(r));
    out.ttl = first ? ns_rr_ttl(rr) : std::min<uint32_t>(out.ttl, ns_rr_ttl(rr));
    first = false;
  }
  if (out.records.empty()) out.ttl = negative_ttl(msg);
  return out;
}

AddressAnswer parse_address_answer(std::span<const unsigned char> message, int type) {
  AddressAnswer out;
  ns_msg msg;
  if (ns_initparse(message.data(), static_cast<int>(message.size()), &msg) < 0) return out;
  out.rcode = rcode_of(msg);
  bool first = true;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) return AddressAnswer{};  // malformed, no partial records
    int t = ns_rr_type(rr);
    if (t != type && t != ns_t_cname) continue;
    out.ttl = first ? ns_rr_ttl(rr) : std::min<uint32_t>(out.ttl, ns_rr_ttl(rr));
    first = false;
    if (t == ns_t_a && ns_rr_rdlen(rr) == 4) {
      in_addr a;
      std::memcpy(&a, ns_rr_rdata(rr), 4);
      out.v4.push_back(a);
    } else if (t == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
      in6_addr a;
      std::memcpy(&a, ns_rr_rdata(rr), 16);
      out.v6.push_back(a);
    }
  }
  if (out.v4.empty() && out.v6.empty()) out.ttl = negative_ttl(msg);
  return out;
}

}  // namespace ringpost::dns
