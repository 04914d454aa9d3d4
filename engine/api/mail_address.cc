// Mailbox syntax, RFC 5321 §4.1.2 (Local-part, Domain, address-literal §4.1.3) plus RFC 6531
// §3.3 (UTF8-non-ascii allowed in atext, qtext and sub-domains). Invariant: an accepted address
// is well-formed UTF-8, at most 254 octets, and has no CR, LF, NUL or unquoted space, so it can
// go into MAIL FROM/RCPT TO and a header field without further escaping.
#include "engine/api/mail_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "engine/api/ascii.h"
#include "engine/api/utf8.h"

namespace ringpost::api {
namespace {

using Check = tl::expected<void, std::string_view>;

Check fail(std::string_view why) { return tl::make_unexpected(why); }

// RFC 5322 §3.2.3 atext, plus any byte of a (pre-validated) UTF-8 sequence per RFC 6531.
bool is_atext(unsigned char c) {
  if (c >= 0x80 || is_ascii_alnum(c)) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

Check check_dot_atom(std::string_view local) {
  if (local.empty()) return fail("local part is empty");
  if (local.front() == '.' || local.back() == '.') return fail("local part starts or ends with a dot");
  for (std::size_t i = 0; i < local.size(); ++i) {
    const auto c = static_cast<unsigned char>(local[i]);
    if (c == '.') {
      if (local[i - 1] == '.') return fail("local part has two dots in a row");
    } else if (!is_atext(c)) {
      return fail("local part has a character that is only allowed inside quotes (space, comma, brackets, ...)");
    }
  }
  return {};
}

// RFC 5321 Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, where qtextSMTP is
// %d32-33 / %d35-91 / %d93-126 and quoted-pairSMTP is "\" %d32-126. Returns the index just
// past the closing quote. No tab, CR, LF or NUL even when escaped: SMTP has no way to carry them.
tl::expected<std::size_t, std::string_view> scan_quoted_local(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) break;
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next < 32 || next > 126) return tl::make_unexpected("quoted local part escapes a control character");
      ++i;
    } else if (c < 32 || c == 127) {
      return tl::make_unexpected("quoted local part contains a control character");
    }
  }
  return tl::make_unexpected("quoted local part has no closing quote");
}

// RFC 5321 §4.1.3 IPv4-address-literal: Snum 3("." Snum), Snum = 1*3DIGIT with value 0..255.
bool is_ipv4_literal(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    const std::size_t start = i;
    int value = 0;
    while (i < s.size() && i - start < 3 && s[i] >= '0' && s[i] <= '9') value = value * 10 + (s[i++] - '0');
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

Check check_address_literal(std::string_view d) {
  if (d.size() < 3 || d.back() != ']') return fail("address literal must be [IPv4] or [IPv6:...]");
  const std::string_view inner = d.substr(1, d.size() - 2);
  constexpr std::string_view kV6Tag = "IPv6:";
  if (inner.size() > kV6Tag.size() && ascii_iequals(inner.substr(0, kV6Tag.size()), kV6Tag)) {
    // inet_pton accepts exactly the full, compressed and IPv4-suffixed forms of RFC 4291
    // §2.2, which is what RFC 5321's IPv6-addr grammar describes; it rejects zone ids.
    const std::string v6(inner.substr(kV6Tag.size()));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, v6.c_str(), buf) != 1) return fail("address literal is not a valid IPv6 address");
    return {};
  }
  if (is_ipv4_literal(inner)) return {};
  // General-address-literal tags other than IPv6 are registered nowhere; nothing can route them.
  return fail("address literal must be [IPv4] or [IPv6:...]");
}

// RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str], i.e. letters,
// digits and inner hyphens; RFC 6531 adds U-labels, which we take as any UTF-8 beyond ASCII.
Check check_domain(std::string_view d) {
  if (d.empty()) return fail("domain is empty");
  if (d.front() == '[') return check_address_literal(d);
  if (d.size() > kMaxDomainLength) return fail("domain is longer than 253 octets");
  bool last_all_digits = false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = d.find('.', start);
    const std::string_view label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return fail("domain has an empty label (leading, trailing or double dot)");
    // A U-label's limit applies to its A-label form (RFC 5890 §2.3.2.1), which only IDNA
    // conversion can tell (idna.h; the submit parser re-checks the converted address).
    const bool ascii_label = std::all_of(label.begin(), label.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii_label && label.size() > 63) return fail("domain label is longer than 63 octets");
    if (label.front() == '-' || label.back() == '-') return fail("domain label starts or ends with a hyphen");
    last_all_digits = true;
    for (const char ch : label) {
      const auto c = static_cast<unsigned char>(ch);
      if (!(is_ascii_alnum(c) || c == '-' || c >= 0x80)) return fail("domain has a character other than letters, digits, hyphens and dots");
      if (c < '0' || c > '9') last_all_digits = false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // RFC 1123 §2.1: a top-level label is never all digits, so "a@192.0.2.1" is a mistyped
  // address literal, not a host name. Catching it here beats a DNS failure hours later.
  if (last_all_digits) return fail("domain ends in an all-digit label; write an IP address as [192.0.2.1]");
  return {};
}

}  // namespace

tl::expected<void, std::string_view> check_mailbox(std::string_view address) {
  if (address.empty()) return fail("address is empty");
  if (address.size() > kMaxAddressLength) return fail("address is longer than 254 octets");
  if (!is_valid_utf8(address)) return fail("address is not valid UTF-8");

  std::size_t local_end = 0;
  if (address.front() == '"') {
    auto end = scan_quoted_local(address);
    if (!end) return tl::make_unexpected(end.error());
    local_end = *end;
    if (local_end >= address.size() || address[local_end] != '@') return fail("quoted local part must be followed by @");
  } else {
    // An unquoted local part cannot contain '@', so the first one ends it.
    local_end = address.find('@');
    if (local_end == std::string_view::npos) return fail("address has no @");
    if (auto ok = check_dot_atom(address.substr(0, local_end)); !ok) return ok;
  }
  if (local_end > kMaxLocalPartLength) return fail("local part is longer than 64 octets");
  return check_domain(address.substr(local_end + 1));
}

}  // namespace ringpost::api
