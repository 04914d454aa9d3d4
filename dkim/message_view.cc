// Header splitting and From-domain extraction. Only the header section is scanned; the body is
// a span handed to the hash as it is.
#include "dkim/message_view.h"

#include "dkim/text.h"

#include <fmt/format.h>

namespace ringpost::dkim {
namespace {

// The first mailbox's addr-spec from a From value (RFC 5322 §3.4): comments are dropped, quoted
// strings are kept opaque (a quoted local part may hold '@', ',', '<'), an angle-addr wins over
// anything around it, a group's display name ("Team: a@x, b@y;") is skipped.
std::string first_addr_spec(std::string_view value) {
  std::string current;
  int comment_depth = 0;
  bool in_quotes = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' || c == '\n') continue;  // unfolding
    if (in_quotes) {
      if (c == '\\') ++i;                  // quoted-pair: skip the escaped octet
      else if (c == '"') in_quotes = false;
      continue;                            // the local part's text does not matter here
    }
    if (comment_depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment_depth;
      else if (c == ')') --comment_depth;
      continue;
    }
    switch (c) {
      case '(': ++comment_depth; break;
      case '"': in_quotes = true; current += 'q'; break;  // stands for the quoted local part
      case '<': {
        // angle-addr: everything up to '>' is the address (obs-route "@a,@b:" before it is
        // obsolete syntax; its ':' separates it from the addr-spec).
        std::string addr;
        bool quoted = false;
        for (++i; i < value.size() && (quoted || value[i] != '>'); ++i) {
          if (value[i] == '"') quoted = !quoted;
          if (value[i] == '\\' && quoted) { ++i; continue; }
          if (value[i] == ':' && !quoted) addr.clear();
          else if (value[i] != '\r' && value[i] != '\n') addr += value[i];
        }
        return addr;
      }
      case ':': current.clear(); break;  // group display name ends
      case ',':
      case ';':
        if (current.find('@') != std::string::npos) return current;
        current.clear();
        break;
      default: current += c;
    }
  }
  return current;
}

}  // namespace

tl::expected<MessageView, std::string> split_message(std::string_view message) {
  MessageView view;
  constexpr std::size_t kNone = std::string_view::npos;
  std::size_t field_start = kNone, field_end = 0;
  auto close_field = [&] {
    if (field_start != kNone) view.fields.push_back(message.substr(field_start, field_end - field_start));
  };
  for (std::size_t pos = 0; pos < message.size();) {
    const std::size_t eol = message.find_first_of("\r\n", pos);
    if (eol != kNone && !(message[eol] == '\r' && eol + 1 < message.size() && message[eol + 1] == '\n'))
      return tl::make_unexpected(
          fmt::format("bare {} at offset {} in the header section", message[eol] == '\r' ? "CR" : "LF", eol));
    const std::size_t line_end = eol == kNone ? message.size() : eol;
    const std::size_t next = eol == kNone ? message.size() : eol + 2;
    const std::string_view line = message.substr(pos, line_end - pos);
    if (line.empty()) {  // the blank line between header and body
      close_field();
      view.body = message.substr(next);
      return view;
    }
    if (is_wsp(line.front())) {
      if (field_start == kNone) return tl::make_unexpected(std::string("the first header line is a continuation line"));
    } else {
      if (line.find(':') == std::string_view::npos)
        return tl::make_unexpected(fmt::format("header line at offset {} has no colon", pos));
      close_field();
      field_start = pos;
    }
    field_end = line_end;
    pos = next;
  }
  close_field();  // no blank line: all header, empty body
  return view;
}

std::string_view field_name(std::string_view field) {
  std::string_view name = field.substr(0, field.find(':'));
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  return name;
}

std::optional<std::string> from_domain(const MessageView& message) {
  for (std::string_view field : message.fields) {
    if (!ascii_iequals(field_name(field), "From")) continue;
    const std::string addr = first_addr_spec(field.substr(field.find(':') + 1));
    const std::size_t at = addr.rfind('@');
    if (at == std::string::npos) return std::nullopt;
    std::string_view domain(addr);
    domain.remove_prefix(at + 1);
    while (!domain.empty() && is_wsp(domain.front())) domain.remove_prefix(1);
    while (!domain.empty() && (is_wsp(domain.back()) || domain.back() == '.')) domain.remove_suffix(1);
    if (domain.empty() || domain.front() == '[') return std::nullopt;
    std::string out;
    out.reserve(domain.size());
    for (char c : domain) out += ascii_lower(c);
    return out;
  }
  return std::nullopt;
}

}  // namespace ringpost::dkim
