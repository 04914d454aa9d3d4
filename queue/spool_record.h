// Spool log record codec: ACCEPT and OUTCOME records framed for an append-only log file.
// Pure functions over memory, no I/O and no clock; safe on any thread. The engine appends
// the bytes (group commit) and recover_spool() reads them back at startup.
//
// Frame (all integers little-endian, no padding; see docs/spool.md):
//
//   offset size  field
//   0      4     magic            kRecordMagic, bytes "RPS1" on disk
//   4      4     payload_length   bytes of payload; <= kMaxRecordPayload
//   8      4     crc32            zlib crc32 over [type][payload] (the 1 + payload_length bytes
//                                 that follow); the length is covered indirectly: a wrong length
//                                 makes the crc run over the wrong bytes
//   12     1     type             RecordType
//   13     n     payload
//
// Payloads (str = u32 length + bytes):
//   ACCEPT  (1): str id, str from, i64 created_at_ms, u32 count, count x str recipient, str body
//   ACCEPT+ (3): as ACCEPT, with u32 n, n x (str name, str value) before the body
//   OUTCOME (2): str id, u32 recipient_index, u8 state, u32 attempts, i64 at_ms,
//                i32 reply.code, str reply.enhanced, str reply.text
//   IDEMPOTENT (4): str owner, str key, str request_hash, i64 expires_at_ms, i32 status,
//                str answer
// ACCEPT and OUTCOME payloads start with the id, so a damaged record can still hint at what
// was lost.
//
// Invariant: every length is checked against the bytes actually present before anything is
// read or allocated, so garbage input costs at most its own size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "queue/message.h"
#include "smtp/reply.h"

namespace ringpost::queue {

// "RPS1" in file byte order. Every byte is non-zero, so a record header is never mistaken for
// preallocated (zero) space and a partially persisted magic is recognisable.
inline constexpr uint32_t kRecordMagic = 0x31535052;
inline constexpr std::size_t kRecordHeaderSize = 13;
// A payload larger than this is refused by the writer and treated as corruption by the reader.
// The HTTP front must reject bigger messages (413) before trying to spool them.
inline constexpr std::size_t kMaxRecordPayload = 64u << 20;

// accept_ext is an ACCEPT with extension fields (owner key, tags, metadata, idempotency key):
// written only when a message has some, so spools without them stay readable by older builds.
// idempotent carries an Idempotency-Key's first answer forward out of a segment about to be
// deleted (the ACCEPTs it was rebuilt from go with it), so a retry after a restart within the
// key's 24 h is still answered, not sent again.
enum class RecordType : uint8_t { accept = 1, outcome = 2, accept_ext = 3, idempotent = 4 };

struct AcceptRecord {
  std::string id;
  std::string from;
  int64_t created_at_ms = 0;
  std::vector<std::string> recipients;
  std::string_view body;  // not owned; when decoded, points into the decoded payload
  // Extension fields, (name, value), between the recipients and the body: "owner", "tags",
  // "metadata", "idempotency". Unknown names are kept and ignored by readers.
  std::vector<std::pair<std::string, std::string>> ext;
  // zlib crc32 of `body`, when whoever produced the body computed it in a pass it made anyway
  // (the DKIM signer hashes the body in blocks and CRCs them on the way): the record's crc is
  // then combined from it (crc32_combine) instead of reading the body once more. Not stored.
  std::optional<uint32_t> body_crc;
};

struct OutcomeRecord {
  std::string id;
  uint32_t recipient_index = 0;
  RecipientState state = RecipientState::queued;
  uint32_t attempts = 0;
  int64_t at_ms = 0;
  smtp::Reply reply;
};

struct IdempotentRecord {
  std::string owner;  // the API key's name; empty without keys
  std::string key;    // the Idempotency-Key header
  std::string request_hash;
  int64_t expires_at_ms = 0;
  int32_t status = 0;
  std::string answer;  // the response body the first request got
};

// Append one framed record to out. Returns false, leaving out unchanged, when the payload would
// exceed kMaxRecordPayload: such a record could never be recovered, so it must not be acked.
[[nodiscard]] bool append_accept(std::string& out, const AcceptRecord& r);
[[nodiscard]] bool append_outcome(std::string& out, const OutcomeRecord& r);
[[nodiscard]] bool append_idempotent(std::string& out, const IdempotentRecord& r);

// Payload size append_accept would produce; lets the front reject an oversized message early.
std::size_t accept_payload_size(const AcceptRecord& r);

// ---- decoding (used by recovery; exposed for tools and tests) ----

struct RecordHeader {
  uint32_t magic = 0;
  uint32_t payload_length = 0;
  uint32_t crc = 0;
  uint8_t type = 0;  // raw: may be a value RecordType does not name
};

// Reads the fixed header; `bytes` must hold at least kRecordHeaderSize bytes.
RecordHeader decode_header(std::string_view bytes);

// crc32 as stored in the header: over the type byte followed by the payload.
uint32_t record_crc(uint8_t type, std::string_view payload);

// Decode a payload whose crc has already been verified. Errors say which field was bad.
// The AcceptRecord's body views `payload`; keep the payload alive while using it.
tl::expected<AcceptRecord, std::string> decode_accept_payload(std::string_view payload,
                                                            RecordType type = RecordType::accept);
tl::expected<OutcomeRecord, std::string> decode_outcome_payload(std::string_view payload);
tl::expected<IdempotentRecord, std::string> decode_idempotent_payload(std::string_view payload);

// Best effort: the leading id string of a (possibly damaged or truncated) payload, if its
// length prefix fits in the bytes given. Used only to describe lost records in warnings.
std::optional<std::string_view> peek_record_id(std::string_view payload);

}  // namespace ringpost::queue
