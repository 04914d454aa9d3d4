// JSON string output, RFC 8259 §7: the characters that must be escaped are '"', '\\' and
// U+0000..U+001F; everything else may appear literally.
#include "engine/api/json_escape.h"

#include "engine/api/utf8.h"

namespace ringpost::api {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_char_length(s.substr(i));
      if (n == 0) {
        // Error messages can quote client input; a stray byte must not make our reply
        // unparseable, so it becomes U+FFFD, the usual stand-in (RFC 3629 §10 advice).
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace ringpost::api
