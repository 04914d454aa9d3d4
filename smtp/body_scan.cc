// See body_scan.h. Two cheap passes rather than one clever one: line ends via memchr (as the
// dot-stuffer does), and the 8-bit test eight bytes at a time, which the compiler vectorises.
#include "smtp/body_scan.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace ringpost::smtp {
namespace {

std::size_t find_from(const char* data, std::size_t n, std::size_t from, char c) {
  if (from >= n) return n;
  const void* p = std::memchr(data + from, c, n - from);
  return p == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(p) - data);
}

bool has_high_bit(std::string_view s) {
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & kHigh) return true;
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return true;
  }
  return false;
}

}  // namespace

BodyScan scan_body(std::string_view message) {
  BodyScan scan;
  scan.eight_bit = has_high_bit(message);
  const char* data = message.data();
  const std::size_t n = message.size();
  std::size_t next_cr = find_from(data, n, 0, '\r');
  std::size_t next_lf = find_from(data, n, 0, '\n');
  std::size_t pos = 0;
  std::size_t line = 0;
  bool in_header = scan.eight_bit;  // a 7-bit message has no 8-bit header: skip the search
  while (pos < n) {
    ++line;
    if (next_cr < pos) next_cr = find_from(data, n, pos, '\r');
    if (next_lf < pos) next_lf = find_from(data, n, pos, '\n');
    const std::size_t eol = std::min(next_cr, next_lf);
    const std::size_t octets = eol - pos;
    scan.wire_size += octets + 2;
    if (in_header && octets == 0) {  // the empty line ending the header section
      scan.header_eight_bit = has_high_bit(message.substr(0, pos));
      in_header = false;
    }
    if (octets > kMaxBodyLine && scan.long_line == 0) {
      scan.long_line = line;
      scan.long_line_octets = octets;
    }
    if (eol == n) break;
    pos = (data[eol] == '\r' && eol + 1 < n && data[eol + 1] == '\n') ? eol + 2 : eol + 1;
  }
  return scan;
}

}  // namespace ringpost::smtp
