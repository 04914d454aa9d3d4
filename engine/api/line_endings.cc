// Line-ending normalisation to CRLF (RFC 5321 §2.3.8: bare CR and bare LF must not be sent).
// A lone CR is treated as a line break too, not dropped: dropping it would join two lines.
#include "engine/api/line_endings.h"

#include <cstring>

namespace ringpost::api {

std::size_t line_break_at(std::string_view s, std::size_t i) {
  if (s[i] == '\r') return (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
  return s[i] == '\n' ? 1 : 0;
}

std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);  // room for LF-only input with ~32-byte lines
  // Line by line with memchr (vectorized in glibc) rather than byte by byte: this runs over
  // every text part the front renders, and a per-byte push_back was a fifth of its CPU on
  // 100 KiB messages. Lines that already end in CRLF (the common case) are copied whole.
  const char* const base = s.data();
  std::size_t i = 0;
  while (i < s.size()) {
    const void* lf = std::memchr(base + i, '\n', s.size() - i);
    const std::size_t end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - base) : s.size();
    std::size_t text_end = end;  // the line without its CR, if it ends in CRLF
    if (lf && end > i && base[end - 1] == '\r') --text_end;
    if (!std::memchr(base + i, '\r', text_end - i)) {
      out.append(base + i, text_end - i);
      if (lf) out += "\r\n";
      i = lf ? end + 1 : s.size();
      continue;
    }
    // A lone CR inside the line: byte by byte up to and including its line break.
    const std::size_t stop = lf ? end + 1 : s.size();
    while (i < stop) {
      if (const std::size_t n = line_break_at(s, i)) {
        out += "\r\n";
        i += n;
      } else {
        out.push_back(base[i++]);
      }
    }
  }
  return out;
}

}  // namespace ringpost::api
