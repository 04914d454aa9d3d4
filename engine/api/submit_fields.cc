// Readers for the submit fields with inner structure: addresses with display names,
// attachments, tags, send_at (docs/api.md). Each reports the first problem it finds, with the
// exact path ("attachments[2].content_base64") so a client can fix the field it got wrong.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/api/ascii.h"
#include "engine/api/attachment_rules.h"
#include "engine/api/base64.h"
#include "engine/api/field_rules.h"
#include "engine/api/idna.h"
#include "engine/api/json_escape.h"
#include "engine/api/rfc3339.h"
#include "engine/api/submit_json.h"
#include "engine/api/utf8.h"

namespace ringpost::api::detail {
namespace {

std::size_t code_points(std::string_view s) {
  // Valid UTF-8 (the JSON parser checked it): count the bytes that start a character.
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Result<std::string_view> optional_string(const std::optional<dom::element>& e, const std::string& field) {
  if (!e) return std::string_view{};
  return string_of(*e, field);
}

// Checks the address syntax, then converts a Unicode domain to A-labels and checks again:
// the A-label form has its own length limits (63 per label, 253 per domain, RFC 5890 §2.3.2.1).
Result<std::string> checked_address(std::string_view s, const std::string& field) {
  if (auto ok = check_mailbox(s); !ok) {
    std::string message = fmt::format("{}: {}", field, ok.error());
    // "Ann <ann@example.com>" is the commonest mistake; say how to write a name instead.
    if (s.find('<') != std::string_view::npos && s.ends_with('>')) {
      message += "; to give a display name write {\"address\":\"ann@example.com\",\"name\":\"Ann\"}";
    }
    return bad("invalid_address", std::move(message), field);
  }
  auto ascii = address_to_ascii_domain(s);
  if (!ascii) {
    return bad("invalid_address", fmt::format("{}: domain is not a valid internationalized domain name: {}", field, ascii.error()),
               field);
  }
  if (auto ok = check_mailbox(*ascii); !ok) {
    return bad("invalid_address", fmt::format("{}: in A-label form ({}): {}", field, *ascii, ok.error()), field);
  }
  return std::move(*ascii);
}

Result<Attachment> read_attachment(const dom::element& e, const std::string& path) {
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return bad("invalid_type", fmt::format("{} must be an object with filename, content_type and content_base64", path), path);
  }
  static constexpr std::array<std::string_view, 4> kKeys = {"filename", "content_type", "content_base64", "content_id"};
  auto members = members_of(obj, kKeys, path, "an attachment");
  if (!members) return tl::make_unexpected(std::move(members.error()));
  for (std::size_t k = 0; k < 3; ++k) {
    if (!(*members)[k]) {
      const std::string field = member_path(path, kKeys[k]);
      return bad("missing_field", fmt::format("{} is required", field), field);
    }
  }
  const std::string filename_path = member_path(path, "filename");
  const std::string type_path = member_path(path, "content_type");
  const std::string content_path = member_path(path, "content_base64");
  const std::string id_path = member_path(path, "content_id");
  auto filename = string_of(*(*members)[0], filename_path);
  if (!filename) return tl::make_unexpected(std::move(filename.error()));
  auto type = string_of(*(*members)[1], type_path);
  if (!type) return tl::make_unexpected(std::move(type.error()));
  auto content = string_of(*(*members)[2], content_path);
  if (!content) return tl::make_unexpected(std::move(content.error()));
  auto id = optional_string((*members)[3], id_path);
  if (!id) return tl::make_unexpected(std::move(id.error()));

  if (auto ok = check_filename(*filename); !ok) return bad("invalid_attachment", std::string(ok.error()), filename_path);
  if (auto ok = check_content_type(*type); !ok) return bad("invalid_attachment", std::string(ok.error()), type_path);
  if ((*members)[3]) {
    if (auto ok = check_content_id(*id); !ok) return bad("invalid_attachment", std::string(ok.error()), id_path);
  }
  auto bytes = base64_decode(*content);
  if (!bytes) {
    return bad("invalid_base64", fmt::format("{} is not valid base64: {}", content_path, bytes.error()), content_path);
  }
  return Attachment{std::string(*filename), std::string(*type), std::string(*id), std::move(*bytes)};
}

}  // namespace

std::string member_path(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return is_ascii_alnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (plain) {
    if (!out.empty()) out.push_back('.');
    out += key;
  } else {
    out.push_back('[');
    append_json_string(out, key);
    out.push_back(']');
  }
  return out;
}

std::string index_path(std::string_view base, std::size_t i) { return fmt::format("{}[{}]", base, i); }

Result<std::string_view> string_of(const dom::element& e, const std::string& field) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return bad("invalid_type", fmt::format("{} must be a string", field), field);
  return s;
}

// "Ann <ann@example.com>", "\"Doe, Ann\" <ann@example.com>" or "<ann@example.com>": the
// name-addr form every mail API takes as a string (RFC 5322 §3.4). nullopt when `s` is not in
// that form (then it is judged as a bare address).
std::optional<std::pair<std::string, std::string_view>> split_name_addr(std::string_view s) {
  // A string with a line break is never a valid address in any form: judged as an address,
  // so the refusal says invalid_address.
  if (s.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!s.ends_with('>')) return std::nullopt;
  const std::size_t open = s.rfind('<');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view addr = s.substr(open + 1, s.size() - open - 2);
  std::string_view raw_name = s.substr(0, open);
  while (!raw_name.empty() && (raw_name.front() == ' ' || raw_name.front() == '\t')) raw_name.remove_prefix(1);
  while (!raw_name.empty() && (raw_name.back() == ' ' || raw_name.back() == '\t')) raw_name.remove_suffix(1);
  std::string name;
  if (raw_name.size() >= 2 && raw_name.front() == '"' && raw_name.back() == '"') {
    for (std::size_t i = 1; i + 1 < raw_name.size(); ++i) {
      if (raw_name[i] == '\\' && i + 2 < raw_name.size()) ++i;
      name += raw_name[i];
    }
  } else {
    name = std::string(raw_name);
  }
  return std::pair{std::move(name), addr};
}

Result<NamedAddress> read_named_address(const dom::element& e, const std::string& field) {
  if (e.is_string()) {
    const std::string_view text = e.get_string().value_unsafe();
    if (auto split = split_name_addr(text)) {
      auto address = checked_address(split->second, field);
      if (!address) return tl::make_unexpected(std::move(address.error()));
      if (auto ok = check_display_name(split->first); !ok)
        return bad("invalid_display_name", fmt::format("{}: {}", field, ok.error()), field);
      return NamedAddress{std::move(*address), std::move(split->first)};
    }
    auto address = checked_address(text, field);
    if (!address) return tl::make_unexpected(std::move(address.error()));
    return NamedAddress{std::move(*address), {}};
  }
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return bad("invalid_type", fmt::format("{} must be an address string or {{\"address\",\"name\"}}", field), field);
  }
  static constexpr std::array<std::string_view, 2> kKeys = {"address", "name"};
  auto members = members_of(obj, kKeys, field, "an address object");
  if (!members) return tl::make_unexpected(std::move(members.error()));
  const std::string address_path = member_path(field, "address");
  const std::string name_path = member_path(field, "name");
  if (!(*members)[0]) return bad("missing_field", fmt::format("{} is required", address_path), address_path);
  auto s = string_of(*(*members)[0], address_path);
  if (!s) return tl::make_unexpected(std::move(s.error()));
  auto address = checked_address(*s, address_path);
  if (!address) return tl::make_unexpected(std::move(address.error()));
  auto name = optional_string((*members)[1], name_path);
  if (!name) return tl::make_unexpected(std::move(name.error()));
  if (auto ok = check_display_name(*name); !ok) {
    return bad("invalid_display_name", fmt::format("{}: {}", name_path, ok.error()), name_path);
  }
  return NamedAddress{std::move(*address), std::string(*name)};
}

Result<std::vector<Attachment>> read_attachments(const dom::element& e, const std::string& field) {
  dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return bad("invalid_type", fmt::format("{} must be an array of attachment objects", field), field);
  }
  std::vector<Attachment> out;
  out.reserve(arr.size());
  std::size_t i = 0;
  for (const dom::element item : arr) {
    const std::string path = index_path(field, i++);
    auto a = read_attachment(item, path);
    if (!a) return tl::make_unexpected(std::move(a.error()));
    // Two parts with one Content-ID make "cid:" references ambiguous (RFC 2392 §2).
    if (!a->content_id.empty()) {
      const auto same = std::find_if(out.begin(), out.end(), [&](const Attachment& o) { return o.content_id == a->content_id; });
      if (same != out.end()) {
        const std::string id_path = member_path(path, "content_id");
        return bad("invalid_attachment",
                   fmt::format("content_id \"{}\" is already used by {}", a->content_id,
                               index_path(field, static_cast<std::size_t>(same - out.begin()))),
                   id_path);
      }
    }
    out.push_back(std::move(*a));
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> read_tags(const dom::element& e, const std::string& field) {
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return bad("invalid_type", fmt::format("{} must be an object mapping tag names to string values", field), field);
  }
  if (obj.size() > kMaxTags) {
    return bad("too_many_tags", fmt::format("{} has {} entries; at most {} are allowed", field, obj.size(), kMaxTags), field);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const dom::key_value_pair kv : obj) {
    const std::string path = member_path(field, kv.key);
    if (std::any_of(out.begin(), out.end(), [&](const auto& t) { return t.first == kv.key; })) {
      return bad("duplicate_field", fmt::format("tag {} appears more than once", kv.key), path);
    }
    if (kv.key.empty() || code_points(kv.key) > kMaxTagKeyLength || has_control_character(kv.key)) {
      return bad("invalid_tag",
                 fmt::format("tag names must be 1 to {} characters without control characters", kMaxTagKeyLength), path);
    }
    auto value = string_of(kv.value, path);
    if (!value) return tl::make_unexpected(std::move(value.error()));
    if (code_points(*value) > kMaxTagValueLength || has_control_character(*value)) {
      return bad("invalid_tag",
                 fmt::format("tag values must be at most {} characters without control characters", kMaxTagValueLength),
                 path);
    }
    out.emplace_back(std::string(kv.key), std::string(*value));
  }
  return out;
}

Result<int64_t> read_send_at(const dom::element& e, const std::string& field, int64_t now_ms) {
  auto s = string_of(e, field);
  if (!s) return tl::make_unexpected(std::move(s.error()));
  auto ms = parse_rfc3339(*s);
  if (!ms) return bad("invalid_send_at", fmt::format("{}: {}", field, ms.error()), field);
  if (*ms - now_ms > kMaxSendAheadMs) {
    return bad("send_at_too_far", fmt::format("{} is more than 30 days ahead; schedule it later or send it now", field),
               field);
  }
  return *ms;
}

}  // namespace ringpost::api::detail
