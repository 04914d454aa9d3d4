// Every message's per-recipient state as the API reports it. Owned by the front thread: shards
// never touch it, they send DeliveryEvents that the front applies here, so a GET needs no
// round trip to the shards and no lock. Rebuilt from the spool at start-up.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "queue/message.h"

namespace ringpost::engine {

class StatusStore {
 public:
  // The body is not kept here; only what GET /v1/messages/{id} shows.
  void add(queue::Message m);
  // False when the id or recipient is unknown. A final state is never replaced by a
  // non-final one, so a late "deferred" cannot resurrect a delivered recipient.
  bool apply(const std::string& id, uint32_t recipient, queue::RecipientState state, uint32_t attempts,
             const smtp::Reply& reply, int64_t at_ms, const std::string& site = {}, const std::string& host = {});
  const queue::Message* find(const std::string& id) const;
  // Forgets a message (status retention ran out).
  void erase(const std::string& id);

  uint64_t count(queue::RecipientState s) const { return counts_[static_cast<std::size_t>(s)]; }
  std::size_t messages() const { return messages_.size(); }

 private:
  std::unordered_map<std::string, queue::Message> messages_;
  std::array<uint64_t, 5> counts_{};
};

std::string message_status_json(const queue::Message& m);
// An SMTP reply as the API shows it: {"code":250,"enhanced":"2.0.0","text":"..."}, or null
// when there was none (code 0). Shared by status, history and events.
void append_reply_json(std::string& out, const smtp::Reply& reply);
// Every recipient in a final state: nothing more is owed for this message.
bool all_final(const queue::Message& m);
// RFC 3339 UTC with milliseconds: "2026-11-25T18:50:34.123Z".
std::string rfc3339_ms(int64_t unix_ms);

}  // namespace ringpost::engine
