// See header_canon.h.
#include "dkim/header_canon.h"

#include "dkim/text.h"

namespace ringpost::dkim {
namespace {

const std::string* find_name(const std::vector<std::string>& list, std::string_view name) {
  for (const std::string& n : list)
    if (ascii_iequals(n, name)) return &n;
  return nullptr;
}

}  // namespace

void append_canonical_field(std::string& out, std::string_view field, Canon c) {
  if (c == Canon::simple) {
    out.append(field);
    out.append("\r\n");
    return;
  }
  // Relaxed (§3.4.2): name in lower case, no WSP around the colon, the value unfolded, WSP
  // runs as one SP, none at either end.
  const std::size_t colon = field.find(':');
  std::string_view name = field.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  for (char ch : name) out.push_back(ascii_lower(ch));
  out.push_back(':');
  bool pending = false, any = false;
  for (std::size_t i = colon + 1; i < field.size(); ++i) {
    const char ch = field[i];
    if (is_wsp(ch)) {
      pending = true;
    } else if (ch == '\r' || ch == '\n') {
      continue;  // unfolding: the WSP after the line break is what remains of the fold
    } else {
      if (pending && any) out.push_back(' ');
      pending = false;
      any = true;
      out.push_back(ch);
    }
  }
  out.append("\r\n");
}

HeaderSelection select_headers(const MessageView& message, const SignEntry& entry) {
  HeaderSelection s;
  for (std::string_view f : message.fields)
    if (const std::string* n = find_name(entry.headers, field_name(f))) s.names.push_back(*n);
  for (const std::string& o : entry.oversign)
    if (find_name(entry.headers, o)) s.names.push_back(o);
  std::vector<bool> taken(message.fields.size(), false);
  for (std::string_view name : s.names) {
    for (std::size_t i = message.fields.size(); i-- > 0;) {
      if (!taken[i] && ascii_iequals(field_name(message.fields[i]), name)) {
        taken[i] = true;
        s.fields.push_back(message.fields[i]);
        break;
      }
    }
  }
  return s;
}

}  // namespace ringpost::dkim
