// Master-file rendering for the test DNS server (RFC 1035 §5.1).
#include "tests/dns_support/zone_file.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ringpost::testing {
namespace {

std::string absolute(std::string_view name) {
  if (name.empty()) return ".";
  if (name.back() == '.') return std::string(name);
  return fmt::format("{}.", name);
}

// Splits off the last whitespace-separated field: MX's exchange and SRV's target come last.
std::string absolute_last_field(std::string_view data) {
  auto end = data.find_last_not_of(" \t");
  if (end == std::string_view::npos) return std::string(data);
  data = data.substr(0, end + 1);
  auto start = data.find_last_of(" \t");
  start = start == std::string_view::npos ? 0 : start + 1;
  return fmt::format("{}{}", data.substr(0, start), absolute(data.substr(start)));
}

}  // namespace

std::string canonical_name(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool name_in_zone(std::string_view name, std::string_view zone) {
  if (zone.empty()) return true;  // the root holds every name
  if (name == zone) return true;
  return name.size() > zone.size() && name.ends_with(zone) && name[name.size() - zone.size() - 1] == '.';
}

std::string canonical_type(std::string_view type) {
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

std::string absolute_rdata(std::string_view type, std::string_view data) {
  const std::string t = canonical_type(type);
  if (t == "MX" || t == "SRV") return absolute_last_field(data);
  if (t == "CNAME" || t == "NS" || t == "PTR" || t == "DNAME") {
    auto first = data.find_first_not_of(" \t");
    auto last = data.find_last_not_of(" \t");
    if (first == std::string_view::npos) return std::string(data);
    return absolute(data.substr(first, last - first + 1));
  }
  return std::string(data);
}

std::string render_zone(std::string_view zone, uint32_t serial, std::span<const DnsRecord> records) {
  const std::string origin = absolute(zone);
  std::string out = fmt::format("$ORIGIN {}\n$TTL {}\n", origin, kSoaTtl);
  // refresh/retry/expire only matter to secondaries, which this server never has.
  out += fmt::format("{} {} IN SOA ns.invalid. hostmaster.invalid. {} 3600 600 86400 {}\n", origin, kSoaTtl,
                     serial, kSoaTtl);
  out += fmt::format("{} {} IN NS ns.invalid.\n", origin, kSoaTtl);
  for (const auto& r : records) {
    out += fmt::format("{} {} IN {} {}\n", absolute(r.name), r.ttl, canonical_type(r.type),
                       absolute_rdata(r.type, r.data));
  }
  return out;
}

}  // namespace ringpost::testing
