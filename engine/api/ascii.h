// ASCII-only case folding and character classes. Locale-free on purpose: <cctype> depends on
// the C locale, and RFC 5321/5322 case-insensitivity is defined on ASCII only.
#pragma once

#include <string>
#include <string_view>

namespace ringpost::api {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string to_ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

constexpr bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }  // RFC 5234 WSP

}  // namespace ringpost::api
