// RFC 2045 §2.7 (7bit) and §6.7 (quoted-printable). Invariant of the encoder's output: only
// printable ASCII, SP, TAB and CRLF; every '=' starts "=XX" or a soft break "=" CRLF; no line
// longer than 76 octets; no line ending in SP or TAB.
#include "engine/api/transfer_encoding.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/api/base64.h"
#include "engine/api/field_rules.h"

namespace ringpost::api {
namespace {

constexpr std::size_t kQpLineLimit = 76;  // RFC 2045 §6.7 rule 5

bool is_crlf_at(std::string_view s, std::size_t i) { return i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n'; }

// No NUL, no octet above 127, no CR or LF.
bool plain_ascii(const char* p, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128(), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, zero), _mm_cmpeq_epi8(w, cr)), _mm_cmpeq_epi8(w, lf));
    if (_mm_movemask_epi8(_mm_or_si128(bad, w)) != 0) return false;  // w's own top bits: octets >= 0x80
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == 0 || c >= 0x80 || c == '\r' || c == '\n') return false;
  }
  return true;
}

}  // namespace

bool is_7bit(std::string_view s) {
  // Line by line (memchr for LF), each line's bytes checked 16 at a time: this runs over every
  // text part the front renders, and the byte loop it replaces was a quarter of the front's CPU
  // on 100 KiB messages.
  const char* const base = s.data();
  std::size_t i = 0;
  while (i < s.size()) {
    const void* lf = std::memchr(base + i, '\n', s.size() - i);
    std::size_t end = s.size();
    if (lf) {
      end = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
      if (end == i || base[end - 1] != '\r') return false;  // a bare LF
      --end;  // the CR of the CRLF
    }
    if (end - i > kMaxLineLength || !plain_ascii(base + i, end - i)) return false;
    i = lf ? end + 2 : s.size();
  }
  return true;
}

std::string quoted_printable_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";  // RFC 2045 §6.7 rule 1: upper case
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  std::size_t line = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_crlf_at(s, i)) {
      out += "\r\n";
      ++i;
      line = 0;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    const bool at_line_end = i + 1 == s.size() || is_crlf_at(s, i + 1);
    // Rule 3: SP/TAB are literal except at the end of a line, where transports may strip them.
    const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    const std::size_t width = literal ? 1 : 3;
    // A character that ends its line may use all 76 columns; any other must leave one for the
    // '=' of a later soft break. "=XX" is never split across lines.
    const std::size_t limit = at_line_end ? kQpLineLimit : kQpLineLimit - 1;
    if (line + width > limit) {
      out += "=\r\n";
      line = 0;
    }
    if (literal) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('=');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
    line += width;
  }
  return out;
}

EncodedText encode_text_body(std::string_view crlf_text) {
  if (is_7bit(crlf_text)) return {"7bit", std::string(crlf_text)};
  std::string qp = quoted_printable_encode(crlf_text);
  // Ties go to QP: it keeps ASCII readable in the raw message, which helps anyone debugging.
  if (qp.size() <= base64_lines_size(crlf_text.size())) return {"quoted-printable", std::move(qp)};
  return {"base64", base64_lines(crlf_text)};
}

}  // namespace ringpost::api
