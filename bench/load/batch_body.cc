// See batch_body.h.
#include "bench/load/batch_body.h"

#include <fmt/format.h>

namespace ringpost::load {

std::string domain_name(const LoadOptions& o, uint32_t k) {
  return o.domains <= 1 ? o.domain : fmt::format("d{}.{}", k, o.domain);
}

std::string make_text(uint32_t size) {
  static constexpr std::string_view kWords = "The quick brown fox jumps over the lazy dog 0123456789. ";
  std::string text;
  text.reserve(size);
  std::size_t col = 0;
  while (text.size() < size) {
    if (col == 76 || text.size() + 1 == size) {
      text += '\n';
      col = 0;
    } else {
      text += kWords[text.size() % kWords.size()];
      ++col;
    }
  }
  return text;
}

std::string json_escape_text(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 70 + 8);
  for (char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') (out += '\\') += c;
    else out += c;
  }
  return out;
}

std::string batch_body(const LoadOptions& o, const std::string& text_json, uint64_t first, uint32_t count) {
  std::string body;
  body.reserve(count * (text_json.size() + 160) + 16);
  body += "{\"messages\":[";
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t n = first + i;
    if (i) body += ',';
    body += fmt::format(R"({{"from":"bench@load.ringpost.test","to":["u{}@{}"],"subject":"bench #{}","text":")", n,
                        domain_name(o, static_cast<uint32_t>(n % (o.domains ? o.domains : 1))), n);
    body += text_json;
    body += "\"}";
  }
  body += "]}";
  return body;
}

}  // namespace ringpost::load
