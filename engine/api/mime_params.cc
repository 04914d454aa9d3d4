// MIME parameters, RFC 2045 §5.1 and RFC 2231 §3-4. Invariant: each line written is at most
// 78 octets for values this module accepts (file names of at most 255 octets).
#include "engine/api/mime_params.h"

#include <algorithm>
#include <vector>

#include "engine/api/ascii.h"
#include "engine/api/utf8.h"

namespace ringpost::api {
namespace {

constexpr std::size_t kFoldAt = 78;  // RFC 5322 §2.1.1 SHOULD

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// RFC 2231 §7 attribute-char: what may appear unencoded in an extended value.
bool is_attribute_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  constexpr std::string_view kAllowed = "!#$&+-.^_`|~";
  return is_ascii_alnum(c) || kAllowed.find(ch) != std::string_view::npos;
}

// The percent-encoded form of each UTF-8 character of `value`, in order, so sections can be
// cut between characters: a reader that decodes each section on its own still gets whole ones.
std::vector<std::string> percent_encoded_chars(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::vector<std::string> chars;
  for (std::size_t i = 0; i < value.size();) {
    const std::size_t n = std::max<std::size_t>(utf8_char_length(value.substr(i)), 1);
    std::string enc;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = value[i + k];
      if (is_attribute_char(c)) {
        enc.push_back(c);
      } else {
        const auto u = static_cast<unsigned char>(c);
        enc.push_back('%');
        enc.push_back(kHex[u >> 4]);
        enc.push_back(kHex[u & 0xF]);
      }
    }
    chars.push_back(std::move(enc));
    i += n;
  }
  return chars;
}

}  // namespace

void append_param(std::string& out, std::string_view attribute, std::string_view value) {
  // ";" CRLF, then " attr=value" and room for the ';' a following parameter would add.
  if (is_printable_ascii(value)) {
    std::string q = quoted(value);
    if (1 + attribute.size() + 1 + q.size() + 1 <= kFoldAt) {
      out += ";\r\n ";
      out += attribute;
      out.push_back('=');
      out += q;
      return;
    }
  }
  const std::vector<std::string> chars = percent_encoded_chars(value);
  constexpr std::string_view kCharset = "utf-8''";  // no language tag (RFC 2231 §4)
  std::size_t section = 0, i = 0;
  std::vector<std::string> sections;
  do {
    // " attr*N*=" + (charset on the first) + characters + ";"
    const std::string head = std::string(attribute) + "*" + std::to_string(section) + "*=";
    std::size_t line = 1 + head.size() + (section == 0 ? kCharset.size() : 0) + 1;
    std::string body;
    while (i < chars.size() && (body.empty() || line + chars[i].size() <= kFoldAt)) {
      body += chars[i];
      line += chars[i].size();
      ++i;
    }
    sections.push_back(head + (section == 0 ? std::string(kCharset) : std::string()) + body);
    ++section;
  } while (i < chars.size());
  if (sections.size() == 1) {
    // One section needs no number: attr*=utf-8''... (RFC 2231 §4).
    const std::string& only = sections.front();
    out += ";\r\n ";
    out += attribute;
    out += "*=";
    out += std::string_view(only).substr(attribute.size() + 4);  // past "attr*0*="
    return;
  }
  for (const std::string& s : sections) {
    out += ";\r\n ";
    out += s;
  }
}

}  // namespace ringpost::api
