// Validation of POST /v1/messages and POST /v1/messages/batch bodies into SubmitMessage
// records. Pure: JSON in, record or ApiError out; any thread may call it. Invariant: a returned
// SubmitMessage satisfies every rule in docs/api.md, so the renderer never has to re-check.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "engine/api/api_error.h"

namespace ringpost::api {

inline constexpr std::size_t kMaxRecipientsPerMessage = 1000;  // to + cc + bcc entries
inline constexpr std::size_t kMaxMessagesPerBatch = 1000;

struct SubmitMessage {
  std::string from;
  std::vector<std::string> to, cc, bcc;
  std::string subject, text, html;  // empty means absent
  std::vector<std::pair<std::string, std::string>> headers;  // in request order
  std::optional<std::string> raw;   // a whole RFC 5322 message; set only without subject/text/html/headers

  // to + cc + bcc in that order, de-duplicated case-insensitively (first spelling kept).
  std::vector<std::string> envelope_recipients() const;
};

// The body of POST /v1/messages: one message object.
tl::expected<SubmitMessage, ApiError> parse_submit(std::string_view json);

// The body of POST /v1/messages/batch: {"messages":[...]}, 1..1000 message objects. All or
// nothing: every invalid item is reported, and one bad item refuses the whole batch.
tl::expected<std::vector<SubmitMessage>, BatchRejection> parse_batch(std::string_view json);

}  // namespace ringpost::api
