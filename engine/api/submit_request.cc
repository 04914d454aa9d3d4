// Validation of message submissions (docs/api.md). Each message reports its first error, in a
// fixed order: unknown/duplicate fields, from, recipients, content, headers. Paths in
// ApiError::field are exact ("messages[4].to[2]") so an agent can fix the field it got wrong.
//
// simdjson DOM, not On-Demand: On-Demand validates only the values it visits, but we promise
// invalid_json for any malformed body before judging its content, and the batch path must
// visit every item even after a failure; bodies are small, so the full parse costs little.
#include "engine/api/submit_request.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <unordered_set>

#include "engine/api/ascii.h"
#include "engine/api/field_rules.h"
#include "engine/api/json_escape.h"
#include "engine/api/line_endings.h"
#include "engine/api/mail_address.h"

namespace ringpost::api {
namespace {

namespace dom = simdjson::dom;

template <typename T>
using Result = tl::expected<T, ApiError>;

ApiError bad(std::string code, std::string message, std::string field) {
  return ApiError{400, std::move(code), std::move(message), std::move(field)};
}

// JSON path of member `key` under `prefix` ("" or "messages[3]"): "prefix.key" for plain
// keys, "prefix[\"odd key\"]" when the key has characters that would make the path ambiguous.
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

// The parser's buffers are reused across requests on a thread; elements returned point into
// them and stay valid until this thread's next parse, long enough to copy values out.
Result<dom::element> parse_json(std::string_view json) {
  thread_local dom::parser parser;
  const simdjson::padded_string padded(json);
  dom::element root;
  if (const auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return tl::make_unexpected(
        bad("invalid_json", fmt::format("body is not valid JSON: {}", simdjson::error_message(err)), ""));
  }
  return root;
}

// A raw message needs a header section and a blank line before the body (RFC 5322 §2.1).
// Line ends are normalised to CRLF later, so CRLF, LF and CR all count here, exactly as
// to_crlf will treat them.
std::optional<std::string_view> raw_problem(std::string_view raw) {
  std::size_t first_break = 0;
  while (first_break < raw.size() && line_break_at(raw, first_break) == 0) ++first_break;
  const std::size_t colon = raw.substr(0, first_break).find(':');
  std::string_view name = raw.substr(0, colon == std::string_view::npos ? 0 : colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // obsolete WSP before the colon, RFC 5322 §4.5
  if (colon == std::string_view::npos || !is_field_name(name)) {
    return "raw must start with a header field such as \"From: a@example.com\"";
  }
  for (std::size_t i = first_break; i < raw.size();) {
    const std::size_t n = line_break_at(raw, i);
    if (n == 0) {
      ++i;
      continue;
    }
    i += n;
    if (i < raw.size() && line_break_at(raw, i) != 0) return std::nullopt;
  }
  return "raw has no blank line between the header section and the body";
}

enum class Field : std::size_t { from, to, cc, bcc, subject, text, html, headers, raw, count_ };
constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::count_);
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"from", "to",   "cc",      "bcc", "subject",
                                                                   "text", "html", "headers", "raw"};

// Reads one message object. `prefix` is "" for a single submission, "messages[i]" in a batch.
class MessageReader {
 public:
  explicit MessageReader(std::string_view prefix) : prefix_(prefix) {}

  Result<SubmitMessage> read(dom::object obj) {
    Result<void> ok = collect_fields(obj);
    if (ok) ok = read_from();
    if (ok) ok = read_recipients();
    if (ok) ok = read_content();
    if (ok) ok = read_headers();
    if (!ok) return tl::make_unexpected(std::move(ok.error()));
    return std::move(msg_);
  }

 private:
  std::string path(Field f) const { return member_path(prefix_, kFieldNames[static_cast<std::size_t>(f)]); }
  const std::optional<dom::element>& value(Field f) const { return values_[static_cast<std::size_t>(f)]; }

  Result<std::string_view> string_of(const dom::element& e, std::string field) const {
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      std::string message = fmt::format("{} must be a string", field);
      return tl::make_unexpected(bad("invalid_type", std::move(message), std::move(field)));
    }
    return s;
  }

  // Unknown fields fail loudly: a typo such as "bc" for "bcc" would otherwise silently drop
  // recipients. A repeated field is refused because JSON leaves its meaning undefined (RFC 8259 §4).
  Result<void> collect_fields(dom::object obj) {
    std::array<bool, kFieldCount> seen{};
    for (const dom::key_value_pair kv : obj) {
      const auto it = std::find(kFieldNames.begin(), kFieldNames.end(), kv.key);
      if (it == kFieldNames.end()) {
        return tl::make_unexpected(bad("unknown_field",
                                       fmt::format("unknown field \"{}\"; expected from, to, cc, bcc, subject, text, html, headers or raw",
                                                   kv.key),
                                       member_path(prefix_, kv.key)));
      }
      const auto i = static_cast<std::size_t>(it - kFieldNames.begin());
      if (seen[i]) {
        return tl::make_unexpected(bad("duplicate_field", fmt::format("field {} appears more than once", kv.key),
                                       member_path(prefix_, kv.key)));
      }
      seen[i] = true;
      // null means "not given": generated clients often serialise unset optionals as null.
      if (!kv.value.is_null()) values_[i] = kv.value;
    }
    from_seen_ = seen[static_cast<std::size_t>(Field::from)];
    return {};
  }

  Result<void> read_from() {
    const auto& e = value(Field::from);
    if (!e) {
      if (from_seen_) return tl::make_unexpected(bad("invalid_type", "from must be a string", path(Field::from)));
      return tl::make_unexpected(bad("missing_field", "from is required", path(Field::from)));
    }
    auto s = string_of(*e, path(Field::from));
    if (!s) return tl::make_unexpected(std::move(s.error()));
    if (auto ok = check_mailbox(*s); !ok) {
      return tl::make_unexpected(bad("invalid_address", fmt::format("from: {}", ok.error()), path(Field::from)));
    }
    msg_.from = std::string(*s);
    return {};
  }

  // Counts before validating any address, so an oversized list costs O(1) to refuse.
  Result<void> read_recipients() {
    constexpr std::array<Field, 3> kLists = {Field::to, Field::cc, Field::bcc};
    std::size_t total = 0;
    for (const Field f : kLists) {
      const auto& e = value(f);
      if (!e) continue;
      dom::array arr;
      if (e->is_string()) {
        total += 1;  // a single address instead of a one-element array
      } else if (e->get_array().get(arr) == simdjson::SUCCESS) {
        total += arr.size();
      } else {
        return tl::make_unexpected(bad("invalid_type", fmt::format("{} must be an array of address strings", path(f)), path(f)));
      }
      if (total > kMaxRecipientsPerMessage) {
        return tl::make_unexpected(bad("too_many_recipients",
                                       fmt::format("a message may have at most {} recipients in to, cc and bcc together; "
                                                   "send more as a batch",
                                                   kMaxRecipientsPerMessage),
                                       path(f)));
      }
    }
    if (total == 0) {
      return tl::make_unexpected(bad("no_recipients", "at least one recipient is required in to, cc or bcc", path(Field::to)));
    }
    if (auto ok = read_list(Field::to, msg_.to); !ok) return ok;
    if (auto ok = read_list(Field::cc, msg_.cc); !ok) return ok;
    return read_list(Field::bcc, msg_.bcc);
  }

  Result<void> read_list(Field f, std::vector<std::string>& out) const {
    const auto& e = value(f);
    if (!e) return {};
    if (e->is_string()) return read_address(*e, path(f), out);
    const dom::array arr = e->get_array().value_unsafe();  // type checked by read_recipients
    out.reserve(arr.size());
    std::size_t i = 0;
    for (const dom::element item : arr) {
      if (auto ok = read_address(item, index_path(path(f), i++), out); !ok) return ok;
    }
    return {};
  }

  Result<void> read_address(const dom::element& e, std::string field, std::vector<std::string>& out) const {
    auto s = string_of(e, field);
    if (!s) return tl::make_unexpected(std::move(s.error()));
    if (auto ok = check_mailbox(*s); !ok) {
      std::string message = fmt::format("{}: {}", field, ok.error());
      return tl::make_unexpected(bad("invalid_address", std::move(message), std::move(field)));
    }
    out.emplace_back(*s);
    return {};
  }

  Result<void> read_content() {
    if (const auto& raw = value(Field::raw)) {
      auto s = string_of(*raw, path(Field::raw));
      if (!s) return tl::make_unexpected(std::move(s.error()));
      for (const Field f : {Field::subject, Field::text, Field::html, Field::headers}) {
        if (value(f)) {
          return tl::make_unexpected(bad("conflicting_fields",
                                         fmt::format("raw is a complete message; it cannot be combined with {}",
                                                     kFieldNames[static_cast<std::size_t>(f)]),
                                         path(f)));
        }
      }
      if (const auto problem = raw_problem(*s)) {
        return tl::make_unexpected(bad("invalid_raw", std::string(*problem), path(Field::raw)));
      }
      msg_.raw = std::string(*s);
      return {};
    }
    if (const auto& e = value(Field::subject)) {
      auto s = string_of(*e, path(Field::subject));
      if (!s) return tl::make_unexpected(std::move(s.error()));
      if (auto ok = check_subject(*s); !ok) {
        return tl::make_unexpected(bad("invalid_header", std::string(ok.error()), path(Field::subject)));
      }
      msg_.subject = std::string(*s);
    }
    for (const auto& [f, out] : {std::pair{Field::text, &msg_.text}, std::pair{Field::html, &msg_.html}}) {
      if (const auto& e = value(f)) {
        auto s = string_of(*e, path(f));
        if (!s) return tl::make_unexpected(std::move(s.error()));
        *out = std::string(*s);
      }
    }
    if (msg_.text.empty() && msg_.html.empty()) {
      return tl::make_unexpected(bad("missing_body", "one of text, html or raw is required (and must not be empty)",
                                     std::string(prefix_)));
    }
    return {};
  }

  Result<void> read_headers() {
    const auto& e = value(Field::headers);
    if (!e) return {};
    dom::object obj;
    if (e->get_object().get(obj) != simdjson::SUCCESS) {
      return tl::make_unexpected(
          bad("invalid_type", "headers must be an object mapping header names to string values", path(Field::headers)));
    }
    const std::string base = path(Field::headers);
    for (const dom::key_value_pair kv : obj) {
      std::string field = member_path(base, kv.key);
      if (!is_field_name(kv.key)) {
        return tl::make_unexpected(
            bad("invalid_header", "header name must be printable ASCII without spaces or ':'", std::move(field)));
      }
      if (is_reserved_field(kv.key)) {
        std::string message = fmt::format("{} is written by ringpost and cannot be set in headers; use the request fields",
                                          kv.key);
        return tl::make_unexpected(bad("reserved_header", std::move(message), std::move(field)));
      }
      auto s = string_of(kv.value, field);
      if (!s) return tl::make_unexpected(std::move(s.error()));
      if (auto ok = check_field_value(kv.key, *s); !ok) {
        return tl::make_unexpected(bad("invalid_header", std::string(ok.error()), std::move(field)));
      }
      // A JSON key repeated here is kept, not refused: some fields (Comments, Keywords) may
      // legitimately appear more than once in a message (RFC 5322 §3.6).
      msg_.headers.emplace_back(std::string(kv.key), std::string(*s));
    }
    return {};
  }

  std::string_view prefix_;
  std::array<std::optional<dom::element>, kFieldCount> values_;
  bool from_seen_ = false;
  SubmitMessage msg_;
};

}  // namespace

std::vector<std::string> SubmitMessage::envelope_recipients() const {
  // Case-insensitive on the whole address although RFC 5321 §2.4 lets a local part be case
  // sensitive: in practice no mail system distinguishes, and delivering twice to one mailbox
  // is the worse failure.
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  out.reserve(to.size() + cc.size() + bcc.size());
  for (const auto* list : {&to, &cc, &bcc}) {
    for (const std::string& a : *list) {
      if (seen.insert(to_ascii_lower(a)).second) out.push_back(a);
    }
  }
  return out;
}

tl::expected<SubmitMessage, ApiError> parse_submit(std::string_view json) {
  auto root = parse_json(json);
  if (!root) return tl::make_unexpected(std::move(root.error()));
  dom::object obj;
  if (root->get_object().get(obj) != simdjson::SUCCESS) {
    return tl::make_unexpected(bad("invalid_body", "body must be a JSON object", ""));
  }
  return MessageReader("").read(obj);
}

tl::expected<std::vector<SubmitMessage>, BatchRejection> parse_batch(std::string_view json) {
  const auto refuse = [](ApiError e) { return tl::make_unexpected(BatchRejection{std::move(e), {}}); };
  auto root = parse_json(json);
  if (!root) return refuse(std::move(root.error()));
  dom::object obj;
  if (root->get_object().get(obj) != simdjson::SUCCESS) {
    return refuse(bad("invalid_body", "body must be a JSON object with a \"messages\" array", ""));
  }
  std::optional<dom::element> messages;
  for (const dom::key_value_pair kv : obj) {
    if (kv.key != "messages") {
      return refuse(bad("unknown_field", fmt::format("unknown field \"{}\"; a batch body has only \"messages\"", kv.key),
                        member_path("", kv.key)));
    }
    if (messages) return refuse(bad("duplicate_field", "field messages appears more than once", "messages"));
    messages = kv.value;
  }
  if (!messages) return refuse(bad("missing_field", "messages is required", "messages"));
  dom::array arr;
  if (messages->get_array().get(arr) != simdjson::SUCCESS) {
    return refuse(bad("invalid_type", "messages must be an array of message objects", "messages"));
  }
  const std::size_t count = arr.size();
  if (count == 0) return refuse(bad("empty_batch", "messages must contain at least one message", "messages"));
  if (count > kMaxMessagesPerBatch) {
    return refuse(bad("batch_too_large",
                      fmt::format("a batch may contain at most {} messages; split it into several batches",
                                  kMaxMessagesPerBatch),
                      "messages"));
  }

  std::vector<SubmitMessage> out;
  std::vector<BatchError> errors;
  out.reserve(count);
  std::size_t i = 0;
  for (const dom::element item : arr) {
    const std::string prefix = index_path("messages", i);
    dom::object item_obj;
    if (item.get_object().get(item_obj) != simdjson::SUCCESS) {
      errors.push_back({i, bad("invalid_type", fmt::format("{} must be a message object", prefix), prefix)});
    } else if (auto msg = MessageReader(prefix).read(item_obj)) {
      out.push_back(std::move(*msg));
    } else {
      errors.push_back({i, std::move(msg.error())});
    }
    ++i;
  }
  if (!errors.empty()) return tl::make_unexpected(invalid_batch(std::move(errors), count));
  return out;
}

}  // namespace ringpost::api
