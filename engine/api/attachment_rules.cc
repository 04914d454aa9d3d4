// Attachment field rules, RFC 2045 §5.1, RFC 2183 §2.3, RFC 2392 §2. Whitelists rather than
// blacklists: each check says what is allowed, so an unforeseen byte is refused.
#include "engine/api/attachment_rules.h"

#include <algorithm>

#include "engine/api/ascii.h"
#include "engine/api/field_rules.h"

namespace ringpost::api {
namespace {

using Check = tl::expected<void, std::string_view>;

Check fail(std::string_view why) { return tl::make_unexpected(why); }

// RFC 2045 §5.1 token: printable ASCII except SPACE and tspecials.
bool is_token_char(char c) {
  constexpr std::string_view kTspecials = "()<>@,;:\\\"/[]?=";
  return c > 0x20 && c < 0x7F && kTspecials.find(c) == std::string_view::npos;
}

std::size_t token_length(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_token_char(s[n])) ++n;
  return n;
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
}

// RFC 5322 §3.2.3 atext.
bool is_atext(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return is_ascii_alnum(c) || kSpecials.find(ch) != std::string_view::npos;
}

bool is_dot_atom_text(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '.' || is_atext(c); });
}

}  // namespace

Check check_filename(std::string_view f) {
  if (f.empty()) return fail("filename is empty");
  if (f.size() > kMaxFilenameLength) return fail("filename is longer than 255 octets");
  if (has_control_character(f)) return fail("filename contains a control character");
  // Readers keep only the last path component anyway (RFC 2183 §2.3); a path here is a
  // mistake worth reporting, and ".." a traversal attempt on naive receivers.
  if (f.find_first_of("/\\") != std::string_view::npos) return fail("filename must be a name, not a path ('/' or '\\')");
  if (f == "." || f == "..") return fail("filename cannot be \".\" or \"..\"");
  return {};
}

Check check_content_type(std::string_view ct) {
  if (ct.size() > kMaxContentTypeLength) return fail("content_type is longer than 256 octets");
  std::string_view s = ct;
  const std::size_t type_len = token_length(s);
  if (type_len == 0 || type_len >= s.size() || s[type_len] != '/') {
    return fail("content_type must be \"type/subtype\", such as \"application/pdf\"");
  }
  const std::string_view type = s.substr(0, type_len);
  s.remove_prefix(type_len + 1);
  const std::size_t subtype_len = token_length(s);
  if (subtype_len == 0) return fail("content_type must be \"type/subtype\", such as \"application/pdf\"");
  s.remove_prefix(subtype_len);
  if (ascii_iequals(type, "multipart") || ascii_iequals(type, "message")) {
    return fail("content_type multipart/* and message/* cannot be attachments; use application/octet-stream");
  }
  while (true) {
    skip_spaces(s);
    if (s.empty()) return {};
    if (s.front() != ';') return fail("content_type has text after the subtype that is not a \"; name=value\" parameter");
    s.remove_prefix(1);
    skip_spaces(s);
    const std::size_t attr_len = token_length(s);
    if (attr_len == 0 || attr_len >= s.size() || s[attr_len] != '=') {
      return fail("content_type parameter must be name=value");
    }
    if (ascii_iequals(s.substr(0, attr_len), "name")) {
      return fail("content_type cannot have a name parameter; ringpost writes it from filename");
    }
    s.remove_prefix(attr_len + 1);
    if (!s.empty() && s.front() == '"') {
      // RFC 5322 quoted-string without folding: printable ASCII, '"' and '\' escaped.
      std::size_t i = 1;
      for (; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
        if (i >= s.size() || s[i] < 0x20 || s[i] >= 0x7F) return fail("content_type parameter value is not printable ASCII");
      }
      if (i >= s.size()) return fail("content_type parameter value has no closing quote");
      s.remove_prefix(i + 1);
    } else {
      const std::size_t value_len = token_length(s);
      if (value_len == 0) return fail("content_type parameter value must be a token or a quoted string");
      s.remove_prefix(value_len);
    }
  }
}

Check check_content_id(std::string_view id) {
  if (id.empty()) return fail("content_id is empty");
  if (id.size() > kMaxContentIdLength) return fail("content_id is longer than 250 octets");
  if (id.front() == '<' || id.back() == '>') return fail("content_id must be given without angle brackets");
  const std::size_t at = id.find('@');
  const bool ok = at == std::string_view::npos
                      ? is_dot_atom_text(id)
                      : is_dot_atom_text(id.substr(0, at)) && is_dot_atom_text(id.substr(at + 1));
  if (!ok) return fail("content_id must be letters, digits and !#$%&'*+-/=?^_`{|}~ in dot-separated words, optionally with one @");
  return {};
}

}  // namespace ringpost::api
