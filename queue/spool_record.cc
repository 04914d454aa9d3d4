// Spool log record codec (see spool_record.h for the byte layout). Pure; any thread.
// Invariant: the decoder never reads or reserves past the end of the bytes it was given.
#include "queue/spool_record.h"

#include <zlib.h>

#include <algorithm>

#include <fmt/format.h>

namespace ringpost::queue {
namespace {

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t load_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Bounds-checked little-endian reader over one payload. Every getter fails (returns false)
// instead of reading past the end; the caller turns that into an error naming the field.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view in) : in_(in) {}

  bool u8(uint8_t& v) {
    if (in_.size() - pos_ < 1) return false;
    v = static_cast<uint8_t>(in_[pos_]);
    pos_ += 1;
    return true;
  }
  bool u32(uint32_t& v) {
    if (in_.size() - pos_ < 4) return false;
    v = load_u32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool i32(int32_t& v) {
    uint32_t u;
    if (!u32(u)) return false;
    v = static_cast<int32_t>(u);
    return true;
  }
  bool i64(int64_t& v) {
    if (in_.size() - pos_ < 8) return false;
    v = static_cast<int64_t>(load_u64(in_.data() + pos_));
    pos_ += 8;
    return true;
  }
  // The length is compared with what is left before anything is copied: a garbage length
  // can never cause a large allocation.
  bool str(std::string_view& v) {
    uint32_t n;
    if (!u32(n)) return false;
    if (n > in_.size() - pos_) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool str(std::string& v) {
    std::string_view sv;
    if (!str(sv)) return false;
    v.assign(sv);
    return true;
  }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// Writes the header with a placeholder crc, lets `body` append the payload, then patches the
// length and crc in place. Avoids building the (possibly 64 MiB) payload in a second buffer.
// `tail_crc`: the crc32 of the payload's last `tail_size` bytes, known already; only the bytes
// before them are read for the record's crc.
template <typename Fn>
void frame(std::string& out, RecordType type, std::size_t payload_size, Fn&& body,
           std::optional<uint32_t> tail_crc = std::nullopt, std::size_t tail_size = 0) {
  const std::size_t start = out.size();
  out.reserve(start + kRecordHeaderSize + payload_size);
  put_u32(out, kRecordMagic);
  put_u32(out, static_cast<uint32_t>(payload_size));
  put_u32(out, 0);  // crc, patched below
  put_u8(out, static_cast<uint8_t>(type));
  body();
  const std::string_view payload(out.data() + start + kRecordHeaderSize, out.size() - start - kRecordHeaderSize);
  uint32_t crc = 0;
  if (tail_crc) {
    crc = record_crc(static_cast<uint8_t>(type), payload.substr(0, payload.size() - tail_size));
    crc = static_cast<uint32_t>(crc32_combine(crc, *tail_crc, static_cast<z_off_t>(tail_size)));
  } else {
    crc = record_crc(static_cast<uint8_t>(type), payload);
  }
  for (int i = 0; i < 4; ++i) out[start + 8 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

std::size_t outcome_payload_size(const OutcomeRecord& r) {
  return 4 + r.id.size() + 4 + 1 + 4 + 8 + 4 + 4 + r.reply.enhanced.size() + 4 + r.reply.text.size();
}

}  // namespace

std::size_t accept_payload_size(const AcceptRecord& r) {
  std::size_t n = 4 + r.id.size() + 4 + r.from.size() + 8 + 4;
  for (const auto& rcpt : r.recipients) n += 4 + rcpt.size();
  if (!r.ext.empty()) {
    n += 4;
    for (const auto& [k, v] : r.ext) n += 8 + k.size() + v.size();
  }
  return n + 4 + r.body.size();
}

bool append_accept(std::string& out, const AcceptRecord& r) {
  const std::size_t size = accept_payload_size(r);
  if (size > kMaxRecordPayload) return false;
  frame(out, r.ext.empty() ? RecordType::accept : RecordType::accept_ext, size, [&] {
    put_str(out, r.id);
    put_str(out, r.from);
    put_u64(out, static_cast<uint64_t>(r.created_at_ms));
    put_u32(out, static_cast<uint32_t>(r.recipients.size()));
    for (const auto& rcpt : r.recipients) put_str(out, rcpt);
    if (!r.ext.empty()) {
      put_u32(out, static_cast<uint32_t>(r.ext.size()));
      for (const auto& [k, v] : r.ext) {
        put_str(out, k);
        put_str(out, v);
      }
    }
    put_str(out, r.body);
  }, r.body_crc, r.body.size());
  return true;
}

bool append_outcome(std::string& out, const OutcomeRecord& r) {
  const std::size_t size = outcome_payload_size(r);
  if (size > kMaxRecordPayload) return false;
  frame(out, RecordType::outcome, size, [&] {
    put_str(out, r.id);
    put_u32(out, r.recipient_index);
    put_u8(out, static_cast<uint8_t>(r.state));
    put_u32(out, r.attempts);
    put_u64(out, static_cast<uint64_t>(r.at_ms));
    put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(r.reply.code)));
    put_str(out, r.reply.enhanced);
    put_str(out, r.reply.text);
  });
  return true;
}

bool append_idempotent(std::string& out, const IdempotentRecord& r) {
  const std::size_t size = 4 + r.owner.size() + 4 + r.key.size() + 4 + r.request_hash.size() + 8 + 4 + 4 + r.answer.size();
  if (size > kMaxRecordPayload) return false;
  frame(out, RecordType::idempotent, size, [&] {
    put_str(out, r.owner);
    put_str(out, r.key);
    put_str(out, r.request_hash);
    put_u64(out, static_cast<uint64_t>(r.expires_at_ms));
    put_u32(out, static_cast<uint32_t>(r.status));
    put_str(out, r.answer);
  });
  return true;
}

RecordHeader decode_header(std::string_view bytes) {
  RecordHeader h;
  if (bytes.size() < kRecordHeaderSize) return h;  // magic 0: never valid
  h.magic = load_u32(bytes.data());
  h.payload_length = load_u32(bytes.data() + 4);
  h.crc = load_u32(bytes.data() + 8);
  h.type = static_cast<uint8_t>(bytes[12]);
  return h;
}

uint32_t record_crc(uint8_t type, std::string_view payload) {
  const Bytef t = type;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, &t, 1);
  // zlib takes uInt lengths; payloads are capped at 64 MiB, but feed in chunks anyway so the
  // function stays correct for any size it is handed.
  const char* p = payload.data();
  std::size_t left = payload.size();
  while (left > 0) {
    const uInt n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(crc);
}

tl::expected<AcceptRecord, std::string> decode_accept_payload(std::string_view payload, RecordType type) {
  PayloadReader in(payload);
  AcceptRecord r;
  if (!in.str(r.id)) return tl::unexpected(std::string("ACCEPT: bad id"));
  if (!in.str(r.from)) return tl::unexpected(std::string("ACCEPT: bad from"));
  if (!in.i64(r.created_at_ms)) return tl::unexpected(std::string("ACCEPT: truncated created_at"));
  uint32_t count;
  if (!in.u32(count)) return tl::unexpected(std::string("ACCEPT: truncated recipient count"));
  // Each recipient takes at least its 4-byte length prefix; check before reserving.
  if (count > in.remaining() / 4) {
    return tl::unexpected(fmt::format("ACCEPT: recipient count {} exceeds payload", count));
  }
  r.recipients.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string rcpt;
    if (!in.str(rcpt)) return tl::unexpected(fmt::format("ACCEPT: bad recipient {}", i));
    r.recipients.push_back(std::move(rcpt));
  }
  if (type == RecordType::accept_ext) {
    uint32_t n;
    if (!in.u32(n) || n > in.remaining() / 8) return tl::unexpected(std::string("ACCEPT: bad extension count"));
    for (uint32_t i = 0; i < n; ++i) {
      std::string k, v;
      if (!in.str(k) || !in.str(v)) return tl::unexpected(fmt::format("ACCEPT: bad extension {}", i));
      r.ext.emplace_back(std::move(k), std::move(v));
    }
  }
  if (!in.str(r.body)) return tl::unexpected(std::string("ACCEPT: bad body"));
  if (in.remaining() != 0) {
    return tl::unexpected(fmt::format("ACCEPT: {} trailing bytes", in.remaining()));
  }
  return r;
}

tl::expected<OutcomeRecord, std::string> decode_outcome_payload(std::string_view payload) {
  PayloadReader in(payload);
  OutcomeRecord r;
  uint8_t state;
  int32_t code;
  if (!in.str(r.id)) return tl::unexpected(std::string("OUTCOME: bad id"));
  if (!in.u32(r.recipient_index)) return tl::unexpected(std::string("OUTCOME: truncated recipient index"));
  if (!in.u8(state)) return tl::unexpected(std::string("OUTCOME: truncated state"));
  if (state > static_cast<uint8_t>(RecipientState::expired)) {
    return tl::unexpected(fmt::format("OUTCOME: unknown state {}", state));
  }
  r.state = static_cast<RecipientState>(state);
  if (!in.u32(r.attempts)) return tl::unexpected(std::string("OUTCOME: truncated attempts"));
  if (!in.i64(r.at_ms)) return tl::unexpected(std::string("OUTCOME: truncated at_ms"));
  if (!in.i32(code)) return tl::unexpected(std::string("OUTCOME: truncated reply code"));
  r.reply.code = code;
  if (!in.str(r.reply.enhanced)) return tl::unexpected(std::string("OUTCOME: bad enhanced code"));
  if (!in.str(r.reply.text)) return tl::unexpected(std::string("OUTCOME: bad reply text"));
  if (in.remaining() != 0) {
    return tl::unexpected(fmt::format("OUTCOME: {} trailing bytes", in.remaining()));
  }
  return r;
}

tl::expected<IdempotentRecord, std::string> decode_idempotent_payload(std::string_view payload) {
  PayloadReader in(payload);
  IdempotentRecord r;
  if (!in.str(r.owner)) return tl::unexpected(std::string("IDEMPOTENT: bad owner"));
  if (!in.str(r.key)) return tl::unexpected(std::string("IDEMPOTENT: bad key"));
  if (!in.str(r.request_hash)) return tl::unexpected(std::string("IDEMPOTENT: bad request hash"));
  if (!in.i64(r.expires_at_ms)) return tl::unexpected(std::string("IDEMPOTENT: truncated expiry"));
  if (!in.i32(r.status)) return tl::unexpected(std::string("IDEMPOTENT: truncated status"));
  if (!in.str(r.answer)) return tl::unexpected(std::string("IDEMPOTENT: bad answer"));
  if (in.remaining() != 0) return tl::unexpected(fmt::format("IDEMPOTENT: {} trailing bytes", in.remaining()));
  return r;
}

std::optional<std::string_view> peek_record_id(std::string_view payload) {
  PayloadReader in(payload);
  std::string_view id;
  if (!in.str(id)) return std::nullopt;
  return id;
}

}  // namespace ringpost::queue
