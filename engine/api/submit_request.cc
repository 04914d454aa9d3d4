// Validation of message submissions (docs/api.md). Each message reports its first error, in a
// fixed order: unknown/duplicate fields, from, recipients, reply_to, SMTPUTF8, content,
// attachments, headers, tags, metadata, send_at, size. Paths in ApiError::field are exact
// ("messages[4].to[2]") so an agent can fix the field it got wrong.
//
// simdjson DOM, not On-Demand: On-Demand validates only the values it visits, but we promise
// invalid_json for any malformed body before judging its content, and the batch path must
// visit every item even after a failure; bodies are small, so the full parse costs little.
#include "engine/api/submit_request.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <tuple>
#include <unordered_set>

#include "engine/api/ascii.h"
#include "engine/api/field_rules.h"
#include "engine/api/idna.h"
#include "engine/api/raw_message.h"
#include "engine/api/submit_json.h"

namespace ringpost::api {
namespace {

using detail::bad;
using detail::index_path;
using detail::member_path;
using detail::MetadataTexts;
using detail::Result;
using detail::string_of;
namespace dom = simdjson::dom;

// The parser's buffers are reused across requests on a thread; elements returned point into
// them and stay valid until this thread's next parse, long enough to copy values out. They
// grow to the largest body seen (several MiB) until release_parser_memory().
thread_local dom::parser json_parser;

Result<dom::element> parse_json(const simdjson::padded_string& padded) {
  dom::element root;
  if (const auto err = json_parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return bad("invalid_json", fmt::format("body is not valid JSON: {}", simdjson::error_message(err)), "");
  }
  return root;
}

// A header domain in the form allowed_from and DKIM keys use: lower-case, A-labels. A domain
// that is not a valid IDN stays as written (lower-cased), so it simply matches nothing.
std::string ascii_domain(std::string_view d) {
  std::string out;
  if (auto a = domain_to_ascii(d)) out = std::move(*a);
  else out = std::string(d);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string lower_domain_of(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return ascii_domain(at == std::string_view::npos ? std::string_view() : address.substr(at + 1));
}

enum class Field : std::size_t {
  from, to, cc, bcc, reply_to, subject, text, html, headers, raw, attachments, tags, metadata, send_at, smtputf8, count_
};
constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::count_);
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "from", "to",      "cc",  "bcc",         "reply_to", "subject",  "text",
    "html", "headers", "raw", "attachments", "tags",     "metadata", "send_at", "smtputf8"};

struct ReaderContext {
  const SubmitLimits& limits;
  int64_t now_ms;
  MetadataTexts& metadata;
};

// Reads one message object. `prefix` is "" for a single submission, "messages[i]" in a batch.
class MessageReader {
 public:
  MessageReader(std::string_view prefix, std::size_t index, ReaderContext ctx) : prefix_(prefix), index_(index), ctx_(ctx) {}

  Result<SubmitMessage> read(dom::object obj) {
    Result<void> ok = collect_fields(obj);
    if (ok) ok = read_from();
    if (ok) ok = read_recipients();
    if (ok) ok = read_reply_to();
    if (ok) ok = check_address_literals();
    if (ok) ok = check_smtputf8();
    if (ok) ok = read_content();
    if (ok) ok = read_attachments();
    if (ok) ok = read_headers();
    if (ok) ok = read_tags();
    if (ok) ok = read_metadata();
    if (ok) ok = read_send_at();
    if (ok) ok = check_size();
    if (!ok) return tl::make_unexpected(std::move(ok.error()));
    return std::move(msg_);
  }

 private:
  std::string path(Field f) const { return member_path(prefix_, name(f)); }
  static std::string_view name(Field f) { return kFieldNames[static_cast<std::size_t>(f)]; }
  const std::optional<dom::element>& value(Field f) const { return values_[static_cast<std::size_t>(f)]; }

  // Unknown fields fail loudly: a typo such as "bc" for "bcc" would otherwise silently drop
  // recipients. A repeated field is refused because JSON leaves its meaning undefined (RFC 8259 §4).
  Result<void> collect_fields(dom::object obj) {
    std::array<bool, kFieldCount> seen{};
    for (const dom::key_value_pair kv : obj) {
      const auto it = std::find(kFieldNames.begin(), kFieldNames.end(), kv.key);
      if (it == kFieldNames.end()) {
        return bad("unknown_field",
                   fmt::format("unknown field \"{}\"; expected one of {}", kv.key, fmt::join(kFieldNames, ", ")),
                   member_path(prefix_, kv.key));
      }
      const auto i = static_cast<std::size_t>(it - kFieldNames.begin());
      if (seen[i]) {
        return bad("duplicate_field", fmt::format("field {} appears more than once", kv.key), member_path(prefix_, kv.key));
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
      if (from_seen_) return bad("invalid_type", "from must be a string", path(Field::from));
      return bad("missing_field", "from is required", path(Field::from));
    }
    auto a = detail::read_named_address(*e, path(Field::from));
    if (!a) return tl::make_unexpected(std::move(a.error()));
    msg_.from = std::move(a->address);
    msg_.from_name = std::move(a->name);
    // JSON messages: the renderer writes From from this field; raw ones replace this list.
    msg_.header_from_domains = {lower_domain_of(msg_.from)};
    return {};
  }

  // Counts before validating any address, so an oversized list costs O(1) to refuse.
  Result<void> read_recipients() {
    constexpr std::array<Field, 3> kLists = {Field::to, Field::cc, Field::bcc};
    const std::size_t max = ctx_.limits.max_recipients;
    std::size_t total = 0;
    for (const Field f : kLists) {
      auto n = list_size(f);
      if (!n) return tl::make_unexpected(std::move(n.error()));
      total += *n;
      if (total > max) {
        return tl::make_unexpected(ApiError{
            400, "too_many_recipients",
            fmt::format("a message may have at most {} recipients in to, cc and bcc together (max_recipients_per_message); "
                        "send more as a batch",
                        max),
            path(f), "max_recipients_per_message", max});
      }
    }
    if (total == 0) return bad("no_recipients", "at least one recipient is required in to, cc or bcc", path(Field::to));
    std::vector<NamedAddress> list;
    for (const auto& [f, addresses, names] : {std::tuple{Field::to, &msg_.to, &msg_.to_names},
                                              std::tuple{Field::cc, &msg_.cc, &msg_.cc_names},
                                              std::tuple{Field::bcc, &msg_.bcc, static_cast<std::vector<std::string>*>(nullptr)}}) {
      if (auto ok = read_list(f, list); !ok) return ok;
      split_names(list, *addresses, names);
    }
    return {};
  }

  // Entries in an address field: a single address (string or object) counts as one.
  Result<std::size_t> list_size(Field f) const {
    const auto& e = value(f);
    if (!e) return 0;
    if (e->is_string() || e->is_object()) return 1;
    dom::array arr;
    if (e->get_array().get(arr) == simdjson::SUCCESS) return arr.size();
    return bad("invalid_type", fmt::format("{} must be an address or an array of addresses", path(f)), path(f));
  }

  Result<void> read_list(Field f, std::vector<NamedAddress>& out) const {
    out.clear();
    const auto& e = value(f);
    if (!e) return {};
    const auto add = [&](const dom::element& item, std::string field) -> Result<void> {
      auto a = detail::read_named_address(item, field);
      if (!a) return tl::make_unexpected(std::move(a.error()));
      out.push_back(std::move(*a));
      return {};
    };
    if (!e->is_array()) return add(*e, path(f));
    const dom::array arr = e->get_array().value_unsafe();
    out.reserve(arr.size());
    std::size_t i = 0;
    for (const dom::element item : arr) {
      if (auto ok = add(item, index_path(path(f), i++)); !ok) return ok;
    }
    return {};
  }

  // Addresses into `addresses`; names into `names` only if any entry has one (see SubmitMessage).
  static void split_names(std::vector<NamedAddress>& list, std::vector<std::string>& addresses,
                          std::vector<std::string>* names) {
    const bool any_name = std::any_of(list.begin(), list.end(), [](const NamedAddress& a) { return !a.name.empty(); });
    addresses.reserve(list.size());
    for (NamedAddress& a : list) {
      addresses.push_back(std::move(a.address));
      if (names && any_name) names->push_back(std::move(a.name));
    }
  }

  Result<void> read_reply_to() {
    if (auto n = list_size(Field::reply_to); !n) return tl::make_unexpected(std::move(n.error()));
    return read_list(Field::reply_to, msg_.reply_to);
  }

  // RFC 6531: a non-ASCII local part can only travel to servers that offer SMTPUTF8, and which
  // server a recipient's domain uses is only known at delivery. Detected, not asked for: such
  // a message is sent with SMTPUTF8 where the server offers it and bounces with 5.6.7 (RFC
  // 5248) where it does not. An explicit "smtputf8": false is the client saying it must not
  // need it: then it is refused here (422 smtputf8_required). Domains are A-labels by now, so
  // any non-ASCII octet left is in a local part.
  Result<void> check_smtputf8() {
    if (const auto& e = value(Field::smtputf8)) {
      bool v = false;
      if (e->get_bool().get(v) != simdjson::SUCCESS)
        return bad("invalid_type", "smtputf8 must be true or false", path(Field::smtputf8));
      explicit_smtputf8_ = v;
    }
    const auto non_ascii = [](std::string_view a) {
      return std::any_of(a.begin(), a.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    };
    std::optional<std::string> first;
    if (non_ascii(msg_.from)) first = address_path(Field::from, 0);
    const auto scan = [&](Field f, std::size_t count, auto&& at) {
      for (std::size_t i = 0; i < count && !first; ++i)
        if (non_ascii(at(i))) first = address_path(f, i);
    };
    scan(Field::to, msg_.to.size(), [&](std::size_t i) -> std::string_view { return msg_.to[i]; });
    scan(Field::cc, msg_.cc.size(), [&](std::size_t i) -> std::string_view { return msg_.cc[i]; });
    scan(Field::bcc, msg_.bcc.size(), [&](std::size_t i) -> std::string_view { return msg_.bcc[i]; });
    scan(Field::reply_to, msg_.reply_to.size(), [&](std::size_t i) -> std::string_view { return msg_.reply_to[i].address; });
    if (!first) return {};
    msg_.needs_smtputf8 = true;
    if (explicit_smtputf8_ == false) return bad_utf8(*first, "the address has a non-ASCII local part");
    return {};
  }

  Result<void> bad_utf8(std::string field, std::string_view what) const {
    return tl::make_unexpected(ApiError{
        422, "smtputf8_required",
        fmt::format("{}, which only servers offering SMTPUTF8 accept, and \"smtputf8\" is false; leave smtputf8 out "
                    "(or true) to send it with SMTPUTF8 (recipients whose server lacks it bounce with 5.6.7)",
                    what),
        std::move(field)});
  }

  // RFC 5321 §4.1.3 address literals (x@[192.0.2.1]) skip MX lookup and name-based policy and
  // point delivery at any address, loopback included: refused unless the operator allows them.
  Result<void> check_address_literals() {
    if (ctx_.limits.allow_address_literals) return {};
    for (const Field f : {Field::to, Field::cc, Field::bcc}) {
      const std::vector<std::string>& list = f == Field::to ? msg_.to : f == Field::cc ? msg_.cc : msg_.bcc;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::size_t at = list[i].rfind('@');
        if (at != std::string::npos && at + 1 < list[i].size() && list[i][at + 1] == '[')
          return tl::make_unexpected(ApiError{
              422, "address_literal_refused",
              fmt::format("{} is an address literal; this server delivers only to domain names ([api] "
                          "allow_address_literals is false)",
                          list[i]),
              address_path(f, i)});
      }
    }
    return {};
  }

  // The path of the i-th address given in `f`: "to[1]", or "to[1].address" in object form.
  std::string address_path(Field f, std::size_t i) const {
    const dom::element& e = *value(f);
    std::string base = e.is_array() ? index_path(path(f), i) : path(f);
    const dom::element item = e.is_array() ? e.get_array().value_unsafe().at(i).value_unsafe() : e;
    return item.is_object() ? member_path(base, "address") : base;
  }

  Result<void> read_content() {
    if (const auto& raw = value(Field::raw)) {
      auto s = string_of(*raw, path(Field::raw));
      if (!s) return tl::make_unexpected(std::move(s.error()));
      for (const Field f : {Field::reply_to, Field::subject, Field::text, Field::html, Field::headers, Field::attachments}) {
        if (value(f)) {
          return bad("conflicting_fields", fmt::format("raw is a complete message; it cannot be combined with {}", name(f)),
                     path(f));
        }
      }
      auto info = check_raw_message(*s);
      if (!info) return tl::make_unexpected(ApiError{422, "invalid_raw", std::move(info.error()), path(Field::raw)});
      msg_.header_from_domains.clear();
      for (const std::string& d : info->from_domains) msg_.header_from_domains.push_back(ascii_domain(d));
      if (!info->sender_domains.empty()) msg_.header_sender_domain = ascii_domain(info->sender_domains.front());
      if (info->header_8bit) msg_.needs_smtputf8 = true;
      if (msg_.needs_smtputf8 && explicit_smtputf8_ == false)
        return bad_utf8(path(Field::raw), "the raw message has UTF-8 in its header section (RFC 6532)");
      msg_.raw = std::string(*s);
      return {};
    }
    if (const auto& e = value(Field::subject)) {
      auto s = string_of(*e, path(Field::subject));
      if (!s) return tl::make_unexpected(std::move(s.error()));
      if (auto ok = check_subject(*s); !ok) return bad("invalid_header", std::string(ok.error()), path(Field::subject));
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
      return bad("missing_body", "one of text, html or raw is required (and must not be empty)", std::string(prefix_));
    }
    return {};
  }

  Result<void> read_attachments() {
    const auto& e = value(Field::attachments);
    if (!e) return {};
    auto list = detail::read_attachments(*e, path(Field::attachments));
    if (!list) return tl::make_unexpected(std::move(list.error()));
    for (std::size_t i = 0; i < list->size(); ++i) {
      // An inline part is only reachable through a cid: reference in the html.
      if (!(*list)[i].content_id.empty() && msg_.html.empty()) {
        const std::string field = member_path(index_path(path(Field::attachments), i), "content_id");
        return bad("conflicting_fields", "an inline attachment (content_id) needs html that refers to it as cid:", field);
      }
    }
    msg_.attachments = std::move(*list);
    return {};
  }

  Result<void> read_headers() {
    const auto& e = value(Field::headers);
    if (!e) return {};
    dom::object obj;
    if (e->get_object().get(obj) != simdjson::SUCCESS) {
      return bad("invalid_type", "headers must be an object mapping header names to string values", path(Field::headers));
    }
    const std::string base = path(Field::headers);
    for (const dom::key_value_pair kv : obj) {
      std::string field = member_path(base, kv.key);
      if (!is_field_name(kv.key)) {
        return bad("invalid_header", "header name must be printable ASCII without spaces or ':'", std::move(field));
      }
      if (is_reserved_field(kv.key)) {
        return bad("reserved_header",
                   fmt::format("{} is written by ringpost and cannot be set in headers; use the request fields", kv.key),
                   std::move(field));
      }
      // Reply-To stays allowed here for clients written before the reply_to field, but not
      // both: two Reply-To fields are invalid (RFC 5322 §3.6).
      if (!msg_.reply_to.empty() && ascii_iequals(kv.key, "Reply-To")) {
        return bad("conflicting_fields", "Reply-To is set by reply_to; give it in one place only", std::move(field));
      }
      auto s = string_of(kv.value, field);
      if (!s) return tl::make_unexpected(std::move(s.error()));
      if (auto ok = check_field_value(kv.key, *s); !ok) return bad("invalid_header", std::string(ok.error()), std::move(field));
      // A JSON key repeated here is kept, not refused: some fields (Comments, Keywords) may
      // legitimately appear more than once in a message (RFC 5322 §3.6).
      msg_.headers.emplace_back(std::string(kv.key), std::string(*s));
    }
    return {};
  }

  Result<void> read_tags() {
    const auto& e = value(Field::tags);
    if (!e) return {};
    auto tags = detail::read_tags(*e, path(Field::tags));
    if (!tags) return tl::make_unexpected(std::move(tags.error()));
    msg_.tags = std::move(*tags);
    return {};
  }

  Result<void> read_metadata() {
    const auto& e = value(Field::metadata);
    if (!e) return {};
    if (!e->is_object()) return bad("invalid_type", "metadata must be a JSON object", path(Field::metadata));
    std::optional<std::string> text = ctx_.metadata.get(index_);
    if (!text) text = simdjson::to_string(*e);  // minified too, but numbers re-printed
    if (text->size() > kMaxMetadataBytes) {
      return bad("metadata_too_large",
                 fmt::format("metadata is {} bytes as minified JSON; at most {} are allowed", text->size(), kMaxMetadataBytes),
                 path(Field::metadata));
    }
    msg_.metadata = std::move(*text);
    return {};
  }

  Result<void> read_send_at() {
    const auto& e = value(Field::send_at);
    if (!e) return {};
    auto ms = detail::read_send_at(*e, path(Field::send_at), ctx_.now_ms);
    if (!ms) return tl::make_unexpected(std::move(ms.error()));
    msg_.send_at_ms = *ms;
    return {};
  }

  // The content the client sent, decoded: what the limit is about. The rendered message adds
  // headers and a third for base64, and is checked against the spool's own limit later.
  Result<void> check_size() {
    std::size_t total = msg_.text.size() + msg_.html.size() + (msg_.raw ? msg_.raw->size() : 0);
    for (const Attachment& a : msg_.attachments) total += a.content.size();
    if (total <= ctx_.limits.max_message_bytes) return {};
    return tl::make_unexpected(
        ApiError{413, "message_too_large",
                 fmt::format("the message content is {} bytes (text + html + decoded attachments + raw); the limit is "
                             "{} bytes (max_message_bytes)",
                             total, ctx_.limits.max_message_bytes),
                 std::string(prefix_), "max_message_bytes", ctx_.limits.max_message_bytes});
  }

  std::string_view prefix_;
  std::size_t index_;
  ReaderContext ctx_;
  std::array<std::optional<dom::element>, kFieldCount> values_;
  bool from_seen_ = false;
  std::optional<bool> explicit_smtputf8_;  // "smtputf8" as given; unset when absent
  SubmitMessage msg_;
};

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

tl::expected<SubmitMessage, ApiError> parse_submit(std::string_view json, const SubmitLimits& limits,
                                                   std::optional<int64_t> now_unix_ms) {
  const simdjson::padded_string padded(json);
  auto root = parse_json(padded);
  if (!root) return tl::make_unexpected(std::move(root.error()));
  dom::object obj;
  if (root->get_object().get(obj) != simdjson::SUCCESS) return bad("invalid_body", "body must be a JSON object", "");
  MetadataTexts metadata(padded, false);
  return MessageReader("", 0, {limits, now_unix_ms.value_or(system_now_ms()), metadata}).read(obj);
}

tl::expected<std::vector<SubmitMessage>, BatchRejection> parse_batch(std::string_view json, const SubmitLimits& limits,
                                                                     std::optional<int64_t> now_unix_ms) {
  const auto refuse = [](tl::unexpected<ApiError> e) {
    return tl::make_unexpected(BatchRejection{std::move(e.value()), {}});
  };
  const simdjson::padded_string padded(json);
  auto root = parse_json(padded);
  if (!root) return refuse(tl::make_unexpected(std::move(root.error())));
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
  if (count > limits.max_batch) {
    return refuse(tl::make_unexpected(ApiError{
        400, "batch_too_large",
        fmt::format("a batch may contain at most {} messages (max_batch_messages); it has {}; split it into several batches",
                    limits.max_batch, count),
        "messages", "max_batch_messages", limits.max_batch}));
  }

  MetadataTexts metadata(padded, true);
  const ReaderContext ctx{limits, now_unix_ms.value_or(system_now_ms()), metadata};
  std::vector<SubmitMessage> out;
  std::vector<BatchError> errors;
  out.reserve(count);
  std::size_t i = 0;
  for (const dom::element item : arr) {
    const std::string prefix = index_path("messages", i);
    dom::object item_obj;
    if (item.get_object().get(item_obj) != simdjson::SUCCESS) {
      errors.push_back({i, bad("invalid_type", fmt::format("{} must be a message object", prefix), prefix).value()});
    } else if (auto msg = MessageReader(prefix, i, ctx).read(item_obj)) {
      out.push_back(std::move(*msg));
    } else {
      errors.push_back({i, std::move(msg.error())});
    }
    ++i;
  }
  if (!errors.empty()) return tl::make_unexpected(invalid_batch(std::move(errors), count));
  return out;
}

void release_parser_memory() {
  json_parser = simdjson::dom::parser{};
  detail::release_metadata_parser();
}

}  // namespace ringpost::api
