// IDNA via libidn2. The split between local part and domain is the last '@': a quoted local
// part may itself contain '@', a domain never does (RFC 5321 §4.1.2).
#include "engine/api/idna.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace ringpost::api {
namespace {

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

tl::expected<std::string, std::string> domain_to_ascii(std::string_view domain) {
  if (is_ascii(domain)) return std::string(domain);
  const std::string input(domain);  // libidn2 wants a NUL-terminated string
  char* output = nullptr;
  // NFC_INPUT: clients may send decomposed forms ("u" + U+0308); IDNA2008 requires NFC.
  // NONTRANSITIONAL: UTS #46 mapping (case folding and the like) as browsers do, keeping
  // "ß" and ZWJ/ZWNJ distinct as IDNA2008 defines them instead of the IDNA2003 mappings.
  const int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  const std::unique_ptr<char, decltype(&std::free)> owned(output, &std::free);
  if (rc != IDN2_OK) return tl::make_unexpected(std::string(idn2_strerror(rc)));
  return std::string(output);
}

tl::expected<std::string, std::string> address_to_ascii_domain(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return std::string(address);
  const std::string_view domain = address.substr(at + 1);
  if (domain.starts_with('[') || is_ascii(domain)) return std::string(address);
  auto converted = domain_to_ascii(domain);
  if (!converted) return tl::make_unexpected(std::move(converted.error()));
  std::string out(address.substr(0, at + 1));
  out += *converted;
  return out;
}

}  // namespace ringpost::api
