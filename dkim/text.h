// The few byte-level helpers dkim/ needs for header text (RFC 5322 field names are ASCII and
// case-insensitive; WSP is SP or HTAB, RFC 5234 B.1), and OpenSSL's error queue as text. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringpost::dkim {

inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// OpenSSL's per-thread error queue as one line ("no detail from OpenSSL" when empty); emptied,
// so the next call starts clean.
std::string openssl_errors();

}  // namespace ringpost::dkim
