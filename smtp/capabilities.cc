// See capabilities.h. Each EHLO line is "keyword [SP params]" (RFC 5321 §4.1.1.1 ehlo-line).
#include "smtp/capabilities.h"

#include <charconv>
#include <string_view>

namespace ringpost::smtp {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void apply_line(std::string_view line, Capabilities& caps) {
  line = trim(line);
  const std::size_t sp = line.find(' ');
  const std::string_view keyword = line.substr(0, sp);
  const std::string_view params = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp + 1));

  if (iequals(keyword, "PIPELINING")) {
    caps.pipelining = true;
  } else if (iequals(keyword, "CHUNKING")) {
    caps.chunking = true;
  } else if (iequals(keyword, "STARTTLS")) {
    caps.starttls = true;
  } else if (iequals(keyword, "SMTPUTF8")) {
    caps.smtputf8 = true;
  } else if (iequals(keyword, "8BITMIME")) {
    caps.eightbitmime = true;
  } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
    caps.enhancedstatuscodes = true;
  } else if (iequals(keyword, "DSN")) {
    caps.dsn = true;
  } else if (iequals(keyword, "SIZE")) {
    // A limit we cannot read is treated as "no declared limit" rather than as no SIZE at all:
    // the server did offer the extension, and guessing a limit could refuse mail it would take.
    std::size_t limit = 0;
    const auto [end, ec] = std::from_chars(params.data(), params.data() + params.size(), limit);
    caps.size = (ec == std::errc{} && end == params.data() + params.size()) ? limit : 0;
  }
}

}  // namespace

Capabilities parse_capabilities(const Reply& ehlo_reply) {
  Capabilities caps;
  std::string_view text = ehlo_reply.text;
  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return caps;  // single-line reply: no extensions
  text.remove_prefix(nl + 1);
  while (true) {
    nl = text.find('\n');
    apply_line(text.substr(0, nl), caps);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return caps;
}

}  // namespace ringpost::smtp
