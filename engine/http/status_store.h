// Every message's per-recipient state as the API reports it. Owned by the front thread: shards
// never touch it, they send DeliveryEvents that the front applies here, so a GET needs no
// round trip to the shards and no lock. Rebuilt from the spool at start-up.
// Bounded ([limits] status_max_messages / status_max_bytes, docs/security.md "Stored state"):
// past either cap the message that finished longest ago is evicted. A message with a queued or
// deferred recipient is never evicted, so the store may stay over a cap while only unfinished
// messages are left; those are bounded by the spool (each is also on disk) and finish or expire.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "queue/message.h"

namespace ringpost::engine {

struct StatusLimits {
  std::size_t max_messages = 2'000'000;
  uint64_t max_bytes = uint64_t{2} << 30;  // estimated: see StatusStore::bytes()
  std::size_t reply_bytes = 512;           // stored_reply_bytes: reply text kept per attempt
};

class StatusStore {
 public:
  // Called once per evicted message with the key of the cap that made room:
  // "status_max_messages" or "status_max_bytes", and once per reply apply() cut with
  // "stored_reply_bytes" (the front counts them in /metrics).
  using LimitHit = std::function<void(std::string_view limit)>;

  StatusStore() = default;
  explicit StatusStore(StatusLimits limits, LimitHit on_limit = {})
      : limits_(limits), on_limit_(std::move(on_limit)) {}

  // The body is not kept here; only what GET /v1/messages/{id} shows. Reply texts are cut to
  // limits.reply_bytes (recovery hands over what the spool has, which may be longer).
  void add(queue::Message m);
  // False when the id or recipient is unknown. A final state is never replaced by a
  // non-final one, so a late "deferred" cannot resurrect a delivered recipient.
  // next_attempt_at_ms: for a deferral, when the next attempt is due (0 = unknown). `hold`: not
  // an attempt (the recipient waits for a suspension to end): no history entry is added.
  bool apply(const std::string& id, uint32_t recipient, queue::RecipientState state, uint32_t attempts,
             const smtp::Reply& reply, int64_t at_ms, const std::string& site = {}, const std::string& host = {},
             int64_t next_attempt_at_ms = 0, bool hold = false);
  const queue::Message* find(const std::string& id) const;
  // Forgets a message (status retention ran out).
  void erase(const std::string& id);
  // Forgets every finished message (all recipients final) that finished before horizon_ms:
  // [spool] status_retention. Returns how many.
  std::size_t expire_finished_before(int64_t horizon_ms);

  uint64_t count(queue::RecipientState s) const { return counts_[static_cast<std::size_t>(s)]; }
  std::size_t messages() const { return messages_.size(); }
  // The index's bucket array back to the size of what is held (after a burst expired).
  void shrink();
  // Estimated memory held: the strings' bytes plus a fixed cost per message, recipient and
  // attempt. An estimate (allocator slack and short-string buffers are not seen), but one that
  // grows with everything a client controls, which is what the cap is for.
  uint64_t bytes() const { return bytes_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    queue::Message m;
    uint64_t bytes = 0;            // message_bytes(m), kept so updates are O(one recipient)
    int64_t finished_at_ms = -1;   // when its last recipient became final; -1 while unfinished
  };
  void note_if_finished(const std::string& id, Entry& e, int64_t at_ms);
  // Evicts finished messages, oldest first, until under both caps; never `keep`.
  void make_room(const std::string* keep);

  StatusLimits limits_;
  LimitHit on_limit_;
  std::unordered_map<std::string, Entry> messages_;
  // (finished_at_ms, id) of every finished message: oldest first, the order both retention
  // and the caps take them in.
  std::set<std::pair<int64_t, std::string>> finished_;
  std::array<uint64_t, 5> counts_{};
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

// What an attempt's reply costs in the store, and a recipient and a message (bytes()).
uint64_t recipient_bytes(const queue::Recipient& r);
uint64_t message_bytes(const queue::Message& m);

// Marks a reply text cut to fit [limits] stored_reply_bytes.
inline constexpr std::string_view kTruncatedMarker = "...[truncated]";
// Cuts `text` to at most `max_bytes` bytes, the last of them kTruncatedMarker, when it is longer
// (then true); the cut never splits a UTF-8 sequence. SMTP replies can be up to 64 KiB and are
// kept per attempt for days: only the start of one is worth keeping (the code and the reason).
bool truncate_stored_text(std::string& text, std::size_t max_bytes);

std::string message_status_json(const queue::Message& m);
// An SMTP reply as the API shows it: {"code":250,"enhanced":"2.0.0","text":"..."}, or null
// when there was none (code 0). Shared by status, history and events.
void append_reply_json(std::string& out, const smtp::Reply& reply);
// Every recipient in a final state: nothing more is owed for this message.
bool all_final(const queue::Message& m);
// RFC 3339 UTC with milliseconds: "2026-11-25T18:50:34.123Z".
std::string rfc3339_ms(int64_t unix_ms);

}  // namespace ringpost::engine
