// Line-ending normalisation to CRLF (RFC 5321 §2.3.8: bare CR and bare LF must not be sent).
// A lone CR is treated as a line break too, not dropped: dropping it would join two lines.
#include "engine/api/line_endings.h"

namespace ringpost::api {

std::size_t line_break_at(std::string_view s, std::size_t i) {
  if (s[i] == '\r') return (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
  return s[i] == '\n' ? 1 : 0;
}

std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);  // room for LF-only input with ~32-byte lines
  for (std::size_t i = 0; i < s.size();) {
    if (const std::size_t n = line_break_at(s, i)) {
      out += "\r\n";
      i += n;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

}  // namespace ringpost::api
