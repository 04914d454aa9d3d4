// RFC 2045 §2.7 (7bit) and §6.7 (quoted-printable). Invariant of the encoder's output: only
// printable ASCII, SP, TAB and CRLF; every '=' starts "=XX" or a soft break "=" CRLF; no line
// longer than 76 octets; no line ending in SP or TAB.
#include "engine/api/transfer_encoding.h"

#include "engine/api/base64.h"
#include "engine/api/field_rules.h"

namespace ringpost::api {
namespace {

constexpr std::size_t kQpLineLimit = 76;  // RFC 2045 §6.7 rule 5

bool is_crlf_at(std::string_view s, std::size_t i) { return i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n'; }

}  // namespace

bool is_7bit(std::string_view s) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_crlf_at(s, i)) {
      ++i;
      line = 0;
      continue;
    }
    if (c == 0 || c >= 0x80 || c == '\r' || c == '\n') return false;
    if (++line > kMaxLineLength) return false;
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
