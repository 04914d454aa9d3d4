// Header field writing: RFC 5322 §2.2.3 folding (CRLF inserted only before existing WSP, so
// unfolding restores the value exactly) and RFC 2047 encoded-words. Invariant: no line of
// output exceeds 998 octets and no CR or LF from a value reaches the output unencoded.
#include "engine/api/header_writer.h"

#include <algorithm>

#include "engine/api/ascii.h"
#include "engine/api/field_rules.h"
#include "engine/api/utf8.h"

namespace ringpost::api {
namespace {

constexpr std::size_t kFoldAt = 78;              // RFC 5322 §2.1.1 SHOULD
constexpr std::size_t kEncodedLineLimit = 76;    // RFC 2047 §2, lines holding encoded-words
constexpr std::string_view kWordOpen = "=?UTF-8?B?";
constexpr std::string_view kWordClose = "?=";

void append_base64(std::string& out, std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const std::size_t rest = in.size() - i) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(rest == 2 ? kAlphabet[v >> 6 & 63] : '=');
    out.push_back('=');
  }
}

// Calls f with each piece folding may move to a new line: the first word (with any leading
// whitespace), then each whitespace run together with the word after it. Trailing whitespace
// stays with the last word, so no continuation line is all whitespace (RFC 5322 §3.2.2).
template <typename F>
void for_each_fold_segment(std::string_view text, F&& f) {
  const std::size_t last_word = text.find_last_not_of(" \t");
  std::size_t start = 0;
  for (std::size_t i = 1; last_word != std::string_view::npos && i < last_word; ++i) {
    if (is_wsp(text[i]) && !is_wsp(text[i - 1])) {
      f(text.substr(start, i - start));
      start = i;
    }
  }
  f(text.substr(start));
}

bool needs_encoded_words(std::string_view name, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7F) return true;
  }
  if (text.find("=?") != std::string_view::npos) return true;
  // Folding cannot split a segment; one that cannot fit a 998-octet line needs encoded-words,
  // which can be split anywhere between characters.
  bool too_long = false;
  for_each_fold_segment(text, [&](std::string_view seg) {
    too_long = too_long || name.size() + 2 + seg.size() > kMaxLineLength;
  });
  return too_long;
}

void append_folded_ascii(std::string& out, std::string_view text, std::size_t line) {
  bool first = true;
  for_each_fold_segment(text, [&](std::string_view seg) {
    if (!first && line + seg.size() > kFoldAt) {
      out += "\r\n";  // seg starts with WSP, which becomes the continuation line's indent
      line = 0;
    }
    out += seg;
    line += seg.size();
    first = false;
  });
}

// One encoded-word per line; words split only between UTF-8 characters, as RFC 2047 §5 requires
// (each word must decode on its own). White space between adjacent encoded-words is ignored by
// decoders (RFC 2047 §6.2), so the split adds nothing to the decoded text.
void append_encoded_words(std::string& out, std::string_view text, std::size_t line) {
  const std::size_t overhead = kWordOpen.size() + kWordClose.size();
  std::size_t i = 0;
  do {
    if (i > 0) {
      out += "\r\n ";
      line = 1;
    }
    const std::size_t room = kEncodedLineLimit > line + overhead ? kEncodedLineLimit - line - overhead : 0;
    const std::size_t max_bytes = room / 4 * 3;
    std::size_t take = 0;
    while (i + take < text.size()) {
      // An ill-formed byte is carried alone; the validator never lets one through.
      const std::size_t n = std::max<std::size_t>(utf8_char_length(text.substr(i + take)), 1);
      if (take > 0 && take + n > max_bytes) break;  // take > 0: always make progress
      take += n;
    }
    const std::size_t before = out.size();
    out += kWordOpen;
    append_base64(out, text.substr(i, take));
    out += kWordClose;
    line += out.size() - before;
    i += take;
  } while (i < text.size());
}

}  // namespace

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_unstructured_field(std::string& out, std::string_view name, std::string_view text) {
  out += name;
  out += ": ";
  if (needs_encoded_words(name, text)) {
    append_encoded_words(out, text, name.size() + 2);
  } else {
    append_folded_ascii(out, text, name.size() + 2);
  }
  out += "\r\n";
}

void append_address_list_field(std::string& out, std::string_view name, const std::vector<std::string>& addresses) {
  out += name;
  out += ':';
  std::size_t line = name.size() + 1;
  for (std::size_t k = 0; k < addresses.size(); ++k) {
    const std::string& a = addresses[k];
    if (k > 0) {
      out.push_back(',');
      ++line;
    }
    // Fold only after a comma (k > 0): an address is at most 254 octets, so every line stays
    // far below 998 even when one address alone passes 78.
    if (k > 0 && line + 1 + a.size() > kFoldAt) {
      out += "\r\n";
      line = 0;
    }
    out.push_back(' ');
    out += a;
    line += 1 + a.size();
  }
  out += "\r\n";
}

}  // namespace ringpost::api
