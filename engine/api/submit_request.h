// Validation of POST /v1/messages and POST /v1/messages/batch bodies into SubmitMessage
// records. Pure: JSON in, record or ApiError out; any thread may call it. Invariant: a returned
// SubmitMessage satisfies every rule in docs/api.md, so the renderer never has to re-check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "engine/api/api_error.h"
#include "engine/api/mail_address.h"

namespace ringpost::api {

inline constexpr std::size_t kMaxRecipientsPerMessage = 1000;  // to + cc + bcc entries
inline constexpr std::size_t kMaxMessagesPerBatch = 1000;
inline constexpr std::size_t kMaxMessageBytes = 25u << 20;     // text + html + attachments (decoded) + raw
inline constexpr std::size_t kMaxTags = 20;
inline constexpr std::size_t kMaxTagKeyLength = 64;            // characters (code points)
inline constexpr std::size_t kMaxTagValueLength = 256;         // characters (code points)
inline constexpr std::size_t kMaxMetadataBytes = 4096;         // of the minified JSON text
inline constexpr int64_t kMaxSendAheadMs = int64_t{30} * 24 * 3600 * 1000;  // send_at at most 30 days ahead

// Limits a deployment may change ([api] in the config file: max_recipients_per_message,
// max_batch_messages, max_message_bytes); the defaults are the documented ones.
struct SubmitLimits {
  std::size_t max_recipients = kMaxRecipientsPerMessage;
  std::size_t max_batch = kMaxMessagesPerBatch;
  std::size_t max_message_bytes = kMaxMessageBytes;  // over it: 413 message_too_large
  // [api] allow_address_literals: recipients like x@[192.0.2.1] (RFC 5321 §4.1.3) are refused
  // (422 address_literal_refused) unless set; they bypass MX and name-based policy.
  bool allow_address_literals = false;
};

struct Attachment {
  std::string filename;      // UTF-8, a name without any path
  std::string content_type;  // "type/subtype" with any parameters, as given
  std::string content_id;    // empty: attached (multipart/mixed); set: inline in the html (multipart/related)
  std::string content;       // the decoded bytes
};

struct SubmitMessage {
  // Addresses have their domains in A-label form ("xn--..."), whatever the client sent.
  std::string from;
  std::vector<std::string> to, cc, bcc;
  std::string subject, text, html;  // empty means absent
  std::vector<std::pair<std::string, std::string>> headers;  // in request order
  std::optional<std::string> raw;   // a whole RFC 5322 message; set only without subject/text/html/headers

  // Display names: `from_name` for `from`; `to_names` and `cc_names` by position in `to` and
  // `cc`, either empty (no names at all) or as long as the list, "" where an entry has none.
  std::string from_name;
  std::vector<std::string> to_names, cc_names;
  std::vector<NamedAddress> reply_to;                     // Reply-To; empty means none
  std::vector<Attachment> attachments;                    // in request order; never with raw
  std::vector<std::pair<std::string, std::string>> tags;  // in request order, keys unique
  std::optional<std::string> metadata;                    // a JSON object's text, minified
  std::optional<int64_t> send_at_ms;                      // Unix ms; unset: send now

  // The domains the message claims to be from in its header section, lower-case A-labels: the
  // From domain for a JSON message; every From mailbox's for raw, and Sender's when present.
  // The submitting key's allowed_from must cover each (tenant isolation, docs/security.md).
  std::vector<std::string> header_from_domains;
  std::string header_sender_domain;  // empty: no Sender field
  // A non-ASCII address, or UTF-8 in a raw header section (RFC 6531/6532): delivery needs a
  // server offering SMTPUTF8, and bounces with 5.6.7 where there is none.
  bool needs_smtputf8 = false;

  // to + cc + bcc in that order, de-duplicated case-insensitively (first spelling kept).
  std::vector<std::string> envelope_recipients() const;
};

// The body of POST /v1/messages: one message object. `now_unix_ms` is the time send_at is
// judged against; unset means the system clock.
tl::expected<SubmitMessage, ApiError> parse_submit(std::string_view json, const SubmitLimits& limits = {},
                                                   std::optional<int64_t> now_unix_ms = std::nullopt);

// The body of POST /v1/messages/batch: {"messages":[...]}, 1..max_batch message objects. All or
// nothing: every invalid item is reported, and one bad item refuses the whole batch.
tl::expected<std::vector<SubmitMessage>, BatchRejection> parse_batch(std::string_view json,
                                                                     const SubmitLimits& limits = {},
                                                                     std::optional<int64_t> now_unix_ms = std::nullopt);

// Frees the calling thread's JSON parser buffers, which keep the size of the largest body it
// parsed. For a thread gone quiet after a burst (engine/runtime/idle_memory.h).
void release_parser_memory();

}  // namespace ringpost::api
