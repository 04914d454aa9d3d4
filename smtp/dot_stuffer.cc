// See dot_stuffer.h. Hot path: the scan jumps between line ends with memchr (vectorised in
// glibc) instead of testing every byte, and copies whole line bodies with one append each.
#include "smtp/dot_stuffer.h"

#include <algorithm>
#include <cstring>

namespace ringpost::smtp {
namespace {

// Position of the next `c` at or after `from`, or `n` if none.
std::size_t find_from(const char* data, std::size_t n, std::size_t from, char c) {
  if (from >= n) return n;
  const void* p = std::memchr(data + from, c, n - from);
  return p == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(p) - data);
}

// Writes every line of `message` with a CRLF end; doubles a leading '.' when `stuff`. The one
// line walker for both DATA and BDAT, so the two can never disagree on what a line is (and
// body_scan.cc counts lines the same way; its tests compare against this).
void append_lines(std::string_view message, std::string& out, bool stuff) {
  const char* data = message.data();
  const std::size_t n = message.size();
  // Typical mail grows by a handful of bytes (CRLF fix-ups and stuffed dots are rare), so
  // reserve a little slack once; pathological input still works through string growth.
  out.reserve(out.size() + n + n / 64 + 8);

  // Next CR and LF positions, each refreshed only once we pass it: every byte is examined by
  // memchr at most twice over the whole message.
  std::size_t next_cr = find_from(data, n, 0, '\r');
  std::size_t next_lf = find_from(data, n, 0, '\n');
  std::size_t pos = 0;
  while (pos < n) {
    // Here pos is always the start of a line. RFC 5321 §4.5.2: a line starting with '.' gets
    // one more, so the server never mistakes it for the end of data.
    if (stuff && data[pos] == '.') out += '.';
    if (next_cr < pos) next_cr = find_from(data, n, pos, '\r');
    if (next_lf < pos) next_lf = find_from(data, n, pos, '\n');
    const std::size_t eol = std::min(next_cr, next_lf);
    out.append(data + pos, eol - pos);
    // RFC 5321 §2.3.8: bare CR and bare LF are not line ends on the wire; treat each as one
    // and write CRLF. This also supplies the missing CRLF after a last line without one.
    out += "\r\n";
    if (eol == n) break;
    pos = (data[eol] == '\r' && eol + 1 < n && data[eol + 1] == '\n') ? eol + 2 : eol + 1;
  }
}

}  // namespace

void dot_stuff_append(std::string_view message, std::string& out) {
  append_lines(message, out, true);
  out += ".\r\n";
}

void crlf_normalize_append(std::string_view message, std::string& out) {
  append_lines(message, out, false);
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  dot_stuff_append(message, out);
  return out;
}

}  // namespace ringpost::smtp
