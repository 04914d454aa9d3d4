// The message and recipient records every layer agrees on. A Message is created by the HTTP
// front; its body is immutable once spooled and is shared read-only with the shards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace ringpost::queue {

enum class RecipientState : uint8_t { queued = 0, deferred = 1, delivered = 2, bounced = 3, expired = 4 };

constexpr std::string_view to_string(RecipientState s) {
  switch (s) {
    case RecipientState::queued: return "queued";
    case RecipientState::deferred: return "deferred";
    case RecipientState::delivered: return "delivered";
    case RecipientState::bounced: return "bounced";
    case RecipientState::expired: return "expired";
  }
  return "unknown";
}

// Final states never change again; everything else is still owed a delivery attempt.
constexpr bool is_final(RecipientState s) {
  return s == RecipientState::delivered || s == RecipientState::bounced || s == RecipientState::expired;
}

// One delivery attempt as GET /v1/messages/{id} shows it. Kept in memory only (the spool keeps
// each recipient's latest outcome), the last few per recipient.
struct Attempt {
  int64_t at_ms = 0;
  std::string host;  // endpoint that answered, e.g. "mx1.example.com[192.0.2.1]:25"; empty if none did
  RecipientState state = RecipientState::queued;
  smtp::Reply reply;
};

struct Recipient {
  std::string address;            // as submitted, e.g. "Bob@Example.test"
  RecipientState state = RecipientState::queued;
  uint32_t attempts = 0;
  smtp::Reply last_reply;
  int64_t updated_at_ms = 0;      // unix epoch milliseconds
  std::string site;               // where the last attempt went (MX host set or route); not spooled
  bool recovered = false;         // re-queued by a spool recovery: a delivery after it may be a repeat
  std::vector<Attempt> history;   // latest last; at most kMaxAttemptHistory
  // While deferred: when the next attempt is due (the retry schedule's next time, or when the
  // suspension holding the recipient ends); 0 = not known (e.g. after a restart). Not spooled.
  // Last, so positional initializers of the fields above stay as they are.
  int64_t next_attempt_at_ms = 0;
};

inline constexpr std::size_t kMaxAttemptHistory = 10;

// Where a message's body lies in the spool: file (an index into the recovered file list, or
// the engine's segment number), byte offset and size. Bodies of queued messages stay on disk
// and are read back when a connection is ready for them.
struct BodyLocation {
  uint32_t file = 0;
  uint64_t offset = 0;
  uint32_t size = 0;
};

struct Message {
  std::string id;
  std::string from;               // envelope sender (MAIL FROM)
  int64_t created_at_ms = 0;      // unix epoch milliseconds
  std::vector<Recipient> recipients;
  std::shared_ptr<const std::string> body;  // RFC 5322 bytes, CRLF line ends; may be left on disk
  BodyLocation body_at;                     // set by recovery
  // From the API: the key that submitted it (only that key sees it), tags and metadata as JSON
  // objects, and "<key>\n<request sha256>" when the request had an Idempotency-Key.
  std::string owner;
  std::string tags_json;
  std::string metadata_json;
  std::string idempotency;
  int64_t send_at_ms = 0;  // scheduled send (0 = at once)
};

// The part of an address after the last '@', lower-cased: the routing key.
std::string domain_of(std::string_view address);

}  // namespace ringpost::queue
