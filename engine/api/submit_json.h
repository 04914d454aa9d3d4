// Internal to the submit parser (submit_request.cc, submit_fields.cc): simdjson DOM helpers
// and the readers of the fields that have inner structure. Not a public header: it exposes
// simdjson. Every reader returns the value or an ApiError whose `field` is the exact JSON path.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "engine/api/api_error.h"
#include "engine/api/mail_address.h"
#include "engine/api/submit_request.h"

namespace ringpost::api::detail {

namespace dom = simdjson::dom;

template <typename T>
using Result = tl::expected<T, ApiError>;

inline tl::unexpected<ApiError> bad(std::string code, std::string message, std::string field) {
  return tl::make_unexpected(ApiError{400, std::move(code), std::move(message), std::move(field)});
}

// JSON path of member `key` under `prefix` ("" or "messages[3]"): "prefix.key" for plain
// keys, "prefix[\"odd key\"]" when the key has characters that would make the path ambiguous.
std::string member_path(std::string_view prefix, std::string_view key);
std::string index_path(std::string_view base, std::size_t i);

Result<std::string_view> string_of(const dom::element& e, const std::string& field);

// The members of a small JSON object with a fixed set of keys, by position in `keys`; null
// counts as absent. Unknown and repeated keys are refused, naming the key's path.
// Frees this thread's On-Demand parser's buffers (release_parser_memory()).
void release_metadata_parser();

template <std::size_t N>
Result<std::array<std::optional<dom::element>, N>> members_of(dom::object obj, const std::array<std::string_view, N>& keys,
                                                              const std::string& path, std::string_view what);

// An address value: "a@example.com", or {"address":"a@example.com","name":"Ann"}. The
// address is checked (mail_address.h) and its domain converted to A-labels (idna.h).
Result<NamedAddress> read_named_address(const dom::element& e, const std::string& field);

// "attachments": an array of {filename, content_type, content_base64, content_id?}.
Result<std::vector<Attachment>> read_attachments(const dom::element& e, const std::string& field);

// "tags": an object of string values, at most kMaxTags, keys and values length-limited.
Result<std::vector<std::pair<std::string, std::string>>> read_tags(const dom::element& e, const std::string& field);

// "send_at": an RFC 3339 time at most kMaxSendAheadMs after `now_ms`.
Result<int64_t> read_send_at(const dom::element& e, const std::string& field, int64_t now_ms);

// The "metadata" members' JSON text, by message index. The DOM keeps values, not text: a
// number such as 1.50 or 2.0e3 would come back reformatted. So an On-Demand pass over the same
// (already validated) bytes takes each member's raw text and minifies it (whitespace outside
// strings only). The pass runs once, on the first get(), so only when a message has metadata.
class MetadataTexts {
 public:
  // `json` must outlive this object; `batch`: the body is {"messages":[...]}, not one message.
  MetadataTexts(const simdjson::padded_string& json, bool batch) : json_(json), batch_(batch) {}

  // The text for message `index`, or nullopt if the pass could not find it (not expected: the
  // DOM parse saw it); the caller then falls back to the DOM's serialisation.
  std::optional<std::string> get(std::size_t index);

 private:
  void scan();

  const simdjson::padded_string& json_;
  const bool batch_;
  bool scanned_ = false;
  std::vector<std::optional<std::string>> texts_;
};

template <std::size_t N>
Result<std::array<std::optional<dom::element>, N>> members_of(dom::object obj, const std::array<std::string_view, N>& keys,
                                                              const std::string& path, std::string_view what) {
  std::array<std::optional<dom::element>, N> values;
  std::array<bool, N> seen{};
  for (const dom::key_value_pair kv : obj) {
    std::size_t i = 0;
    while (i < N && keys[i] != kv.key) ++i;
    if (i == N) {
      std::string expected;
      for (std::size_t k = 0; k < N; ++k) expected += std::string(k == 0 ? "" : k + 1 == N ? " or " : ", ") + std::string(keys[k]);
      return bad("unknown_field", "unknown field \"" + std::string(kv.key) + "\" in " + std::string(what) + "; expected " + expected,
                 member_path(path, kv.key));
    }
    if (seen[i]) {
      return bad("duplicate_field", "field " + std::string(kv.key) + " appears more than once", member_path(path, kv.key));
    }
    seen[i] = true;
    if (!kv.value.is_null()) values[i] = kv.value;
  }
  return values;
}

}  // namespace ringpost::api::detail
