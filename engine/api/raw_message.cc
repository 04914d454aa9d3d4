// See raw_message.h. Written by hand: no Debian library parses an RFC 5322 header section
// without also owning the message (gmime, mimetic), and these checks need only field names,
// counts and the address-list grammar's top level.
#include "engine/api/raw_message.h"

#include <fmt/format.h>

#include <array>

#include "engine/api/ascii.h"
#include "engine/api/field_rules.h"
#include "engine/api/line_endings.h"

namespace ringpost::api {
namespace {

// RFC 5322 §3.6: fields that may appear at most once (From: exactly once).
constexpr std::array<std::string_view, 11> kSingleFields = {
    "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Date", "Message-ID", "In-Reply-To", "References", "Subject"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

tl::expected<std::vector<std::string>, std::string> address_list_domains(std::string_view value) {
  std::vector<std::string> domains;
  // One pass at the top level of the grammar: quoted strings and (nested) comments are
  // skipped, a ',' ends a mailbox, a ':' opens a group (its name is not an address) and ';'
  // closes it; inside <...> is the addr-spec, otherwise the mailbox text is.
  std::string current;       // the addr-spec candidate of this entry
  std::string angle;         // inside <...>
  bool in_angle = false, had_angle = false;
  auto finish = [&]() -> tl::expected<void, std::string> {
    std::string spec = had_angle ? angle : current;
    std::size_t b = spec.find_first_not_of(" \t\r\n");
    std::size_t e = spec.find_last_not_of(" \t\r\n");
    spec = b == std::string::npos ? std::string() : spec.substr(b, e - b + 1);
    current.clear();
    angle.clear();
    had_angle = false;
    if (spec.empty()) return {};  // an empty entry (", ,") or an empty group
    const std::size_t at = spec.rfind('@');
    if (at == std::string::npos || at + 1 == spec.size())
      return tl::make_unexpected(fmt::format("'{}' is not an address (local@domain)", spec));
    std::string domain = lower(spec.substr(at + 1));
    const bool literal = domain.size() > 2 && domain.front() == '[' && domain.back() == ']';
    if (domain.find_first_of(literal ? " \t<>,;\"" : " \t<>,;:\"") != std::string::npos)
      return tl::make_unexpected(fmt::format("'{}' is not an address (local@domain)", spec));
    domains.push_back(std::move(domain));
    return {};
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '"') {  // quoted string: display name or quoted local part
      std::string q(1, c);
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) q += value[i++];
        q += value[i];
      }
      q += '"';
      (in_angle ? angle : current) += q;
      continue;
    }
    if (c == '[') {  // domain literal: its ':' (IPv6) is neither a group nor a separator
      const std::size_t close = value.find(']', i);
      const std::size_t end = close == std::string_view::npos ? value.size() : close + 1;
      (in_angle ? angle : current) += std::string(value.substr(i, end - i));
      i = end - 1;
      continue;
    }
    if (c == '(') {  // comment, may nest
      int depth = 1;
      for (++i; i < value.size() && depth > 0; ++i) {
        if (value[i] == '\\') ++i;
        else if (value[i] == '(') ++depth;
        else if (value[i] == ')') --depth;
      }
      --i;
      continue;
    }
    if (in_angle) {
      if (c == '>') in_angle = false;
      else angle += c;
      continue;
    }
    if (c == '<') {
      in_angle = true;
      had_angle = true;
      angle.clear();
      continue;
    }
    if (c == ':') {  // "group-name:" — what came before is the group's name
      current.clear();
      continue;
    }
    if (c == ',' || c == ';') {
      if (auto ok = finish(); !ok) return tl::make_unexpected(ok.error());
      continue;
    }
    current += c;
  }
  if (in_angle) return tl::make_unexpected(std::string("an address has '<' without '>'"));
  if (auto ok = finish(); !ok) return tl::make_unexpected(ok.error());
  return domains;
}

tl::expected<RawMessageInfo, std::string> check_raw_message(std::string_view raw) {
  RawMessageInfo info;
  if (raw.find('\0') != std::string_view::npos) return tl::make_unexpected(std::string("raw contains a NUL byte"));
  // Every line, header or body, within RFC 5322 §2.1.1's 998 octets.
  {
    std::size_t start = 0, line = 1;
    for (std::size_t i = 0; i <= raw.size(); ++line) {
      std::size_t n = 0;
      while (i < raw.size() && (n = line_break_at(raw, i)) == 0) ++i;
      if (i - start > kMaxLineLength)
        return tl::make_unexpected(fmt::format("raw line {} is {} octets; RFC 5322 allows at most 998 (fold headers, "
                                               "or use a quoted-printable or base64 body)",
                                               line, i - start));
      if (i >= raw.size()) break;
      i += n;
      start = i;
    }
  }
  // The header section: fields, each a "name:" line plus continuation lines starting with WSP.
  std::size_t i = 0;
  bool blank_line = false;
  while (i < raw.size()) {
    std::size_t end = i;
    while (end < raw.size() && line_break_at(raw, end) == 0) ++end;
    const std::size_t brk = end < raw.size() ? line_break_at(raw, end) : 0;
    if (end == i) {  // the empty line ending the header section
      blank_line = brk != 0;
      i = end + brk;
      break;
    }
    const std::string_view line = raw.substr(i, end - i);
    if (is_wsp(line.front())) {
      if (info.fields.empty()) return tl::make_unexpected(std::string("raw must start with a header field such as \"From: a@example.com\""));
      // A continuation: widen the last field's value to this line's end.
      RawHeaderField& f = info.fields.back();
      f.value = std::string_view(f.value.data(), static_cast<std::size_t>(raw.data() + end - f.value.data()));
    } else {
      const std::size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // obsolete WSP before ':', RFC 5322 §4.5
      if (colon == std::string_view::npos || !is_field_name(name))
        return tl::make_unexpected(info.fields.empty()
                                       ? std::string("raw must start with a header field such as \"From: a@example.com\"")
                                       : fmt::format("raw header line {} is not a field (\"Name: value\") nor a continuation "
                                                     "(starting with a space or tab), and no empty line precedes it",
                                                     info.fields.size() + 1));
      info.fields.push_back(RawHeaderField{name, line.substr(colon + 1)});
    }
    i = end + brk;
    if (brk == 0) break;
  }
  if (!blank_line) return tl::make_unexpected(std::string("raw has no blank line between the header section and the body"));
  for (std::size_t k = 0; k < i; ++k)
    if (static_cast<unsigned char>(raw[k]) >= 0x80) {
      info.header_8bit = true;
      break;
    }
  for (const std::string_view single : kSingleFields) {
    std::size_t count = 0;
    const RawHeaderField* first = nullptr;
    for (const RawHeaderField& f : info.fields)
      if (ascii_iequals(f.name, single) && count++ == 0) first = &f;
    if (single == "From" && count == 0) return tl::make_unexpected(std::string("raw has no From header field"));
    if (count > 1) return tl::make_unexpected(fmt::format("raw has {} {} header fields; RFC 5322 §3.6 allows one", count, single));
    if (!first) continue;
    if (single == "From" || single == "Sender") {
      auto domains = address_list_domains(first->value);
      if (!domains) return tl::make_unexpected(fmt::format("raw {} header: {}", single, domains.error()));
      if (domains->empty()) return tl::make_unexpected(fmt::format("raw {} header has no address", single));
      if (single == "Sender" && domains->size() > 1)
        return tl::make_unexpected(std::string("raw Sender header has more than one address; RFC 5322 §3.6.2 allows one"));
      (single == "From" ? info.from_domains : info.sender_domains) = std::move(*domains);
    }
  }
  return info;
}

}  // namespace ringpost::api
