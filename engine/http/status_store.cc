// See status_store.h.
#include "engine/http/status_store.h"

#include "engine/runtime/idle_memory.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "engine/api/bounce_class.h"
#include "engine/api/json_escape.h"

namespace ringpost::engine {

namespace {
// Per-object costs beside the strings' bytes: the object itself, and for a message its
// hash-map node and bucket, the id as the map's key and in the finished set.
constexpr uint64_t kMessageCost = sizeof(queue::Message) + sizeof(std::string) * 2 + 96;
constexpr uint64_t kRecipientCost = sizeof(queue::Recipient);
constexpr uint64_t kAttemptCost = sizeof(queue::Attempt);

void truncate_replies(queue::Recipient& r, std::size_t max_bytes) {
  truncate_stored_text(r.last_reply.text, max_bytes);
  for (queue::Attempt& a : r.history) truncate_stored_text(a.reply.text, max_bytes);
}
}  // namespace

uint64_t recipient_bytes(const queue::Recipient& r) {
  uint64_t n = kRecipientCost + r.address.size() + r.site.size() + r.last_reply.enhanced.size() + r.last_reply.text.size();
  for (const queue::Attempt& a : r.history)
    n += kAttemptCost + a.host.size() + a.reply.enhanced.size() + a.reply.text.size();
  return n;
}

uint64_t message_bytes(const queue::Message& m) {
  uint64_t n = kMessageCost + 3 * m.id.size() + m.from.size() + m.owner.size() + m.tags_json.size() +
               m.metadata_json.size() + m.idempotency.size();
  for (const queue::Recipient& r : m.recipients) n += recipient_bytes(r);
  return n;
}

bool truncate_stored_text(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return false;
  std::size_t keep = max_bytes > kTruncatedMarker.size() ? max_bytes - kTruncatedMarker.size() : 0;
  // text[keep] is the first byte dropped: while it continues a UTF-8 sequence (10xxxxxx), the
  // sequence it belongs to would be split, so drop that one whole. At most 3 steps: a longer
  // run of continuation bytes is not UTF-8 anyway, and is cut where it falls.
  for (int i = 0; i < 3 && keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80; ++i) --keep;
  text.resize(keep);
  text += kTruncatedMarker;
  return true;
}

void StatusStore::add(queue::Message m) {
  m.body.reset();
  for (queue::Recipient& r : m.recipients) truncate_replies(r, limits_.reply_bytes);
  const std::string id = m.id;
  erase(id);  // added again (recovery plus a replayed ACCEPT): the new copy replaces the old
  for (const queue::Recipient& r : m.recipients) ++counts_[static_cast<std::size_t>(r.state)];
  Entry e;
  e.bytes = message_bytes(m);
  e.m = std::move(m);
  bytes_ += e.bytes;
  Entry& stored = messages_.emplace(id, std::move(e)).first->second;
  int64_t last = stored.m.created_at_ms;
  for (const queue::Recipient& r : stored.m.recipients) last = std::max(last, r.updated_at_ms);
  note_if_finished(id, stored, last);
  make_room(nullptr);
}

bool StatusStore::apply(const std::string& id, uint32_t recipient, queue::RecipientState state, uint32_t attempts,
                        const smtp::Reply& reply, int64_t at_ms, const std::string& site, const std::string& host,
                        int64_t next_attempt_at_ms, bool hold) {
  auto it = messages_.find(id);
  if (it == messages_.end() || recipient >= it->second.m.recipients.size()) return false;
  Entry& e = it->second;
  queue::Recipient& r = e.m.recipients[recipient];
  if (queue::is_final(r.state) && !queue::is_final(state)) return true;
  const uint64_t before = recipient_bytes(r);
  --counts_[static_cast<std::size_t>(r.state)];
  ++counts_[static_cast<std::size_t>(state)];
  smtp::Reply stored = reply;
  if (truncate_stored_text(stored.text, limits_.reply_bytes) && on_limit_) on_limit_("stored_reply_bytes");
  if (!hold && (attempts > r.attempts || reply.code != 0)) {
    r.history.push_back(queue::Attempt{at_ms, host, state, stored});
    if (r.history.size() > queue::kMaxAttemptHistory) r.history.erase(r.history.begin());
  }
  r.state = state;
  r.attempts = hold ? std::max(r.attempts, attempts) : attempts;
  r.last_reply = std::move(stored);
  r.updated_at_ms = at_ms;
  r.next_attempt_at_ms = state == queue::RecipientState::deferred ? next_attempt_at_ms : 0;
  if (!site.empty()) r.site = site;
  const uint64_t after = recipient_bytes(r);
  e.bytes = e.bytes - before + after;
  bytes_ = bytes_ - before + after;
  note_if_finished(id, e, at_ms);
  // Not this message: the caller looks it up right after the event that finished it (its
  // owner for the feed, and to learn that it finished).
  make_room(&id);
  return true;
}

void StatusStore::note_if_finished(const std::string& id, Entry& e, int64_t at_ms) {
  if (e.finished_at_ms >= 0 || !all_final(e.m)) return;
  e.finished_at_ms = at_ms;
  finished_.emplace(at_ms, id);
}

void StatusStore::make_room(const std::string* keep) {
  auto it = finished_.begin();
  while (it != finished_.end()) {
    const char* limit = messages_.size() > limits_.max_messages ? "status_max_messages"
                        : bytes_ > limits_.max_bytes            ? "status_max_bytes"
                                                                : nullptr;
    if (!limit) return;
    if (keep && it->second == *keep) {
      ++it;
      continue;
    }
    const std::string id = it++->second;  // erase() removes only that node: `it` stays valid
    erase(id);
    ++evictions_;
    if (on_limit_) on_limit_(limit);
  }
  // Only unfinished messages (and `keep`) are left: over the cap rather than lose mail's state.
}

std::size_t StatusStore::expire_finished_before(int64_t horizon_ms) {
  std::size_t n = 0;
  while (!finished_.empty() && finished_.begin()->first < horizon_ms) {
    const std::string id = finished_.begin()->second;
    erase(id);
    ++n;
  }
  return n;
}

void StatusStore::shrink() { shrink_buckets(messages_); }

void StatusStore::erase(const std::string& id) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  for (const queue::Recipient& r : it->second.m.recipients) --counts_[static_cast<std::size_t>(r.state)];
  if (it->second.finished_at_ms >= 0) finished_.erase({it->second.finished_at_ms, id});
  bytes_ -= it->second.bytes;
  messages_.erase(it);
}

bool all_final(const queue::Message& m) {
  for (const queue::Recipient& r : m.recipients)
    if (!queue::is_final(r.state)) return false;
  return true;
}

const queue::Message* StatusStore::find(const std::string& id) const {
  auto it = messages_.find(id);
  return it == messages_.end() ? nullptr : &it->second.m;
}

std::string rfc3339_ms(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

void append_reply_json(std::string& out, const smtp::Reply& reply) {
  if (reply.code == 0) {
    out += "null";
    return;
  }
  out += fmt::format("{{\"code\":{},\"enhanced\":", reply.code);
  api::append_json_string(out, reply.enhanced);
  out += ",\"text\":";
  api::append_json_string(out, reply.text);
  out += '}';
}

std::string message_status_json(const queue::Message& m) {
  std::string out = "{\"id\":";
  api::append_json_string(out, m.id);
  out += ",\"from\":";
  api::append_json_string(out, m.from);
  out += ",\"created_at\":\"" + rfc3339_ms(m.created_at_ms) + "\"";
  // Stored as the JSON objects' text (validated at submission), so echoed as they are.
  if (!m.tags_json.empty()) out += ",\"tags\":" + m.tags_json;
  if (!m.metadata_json.empty()) out += ",\"metadata\":" + m.metadata_json;
  out += ",\"recipients\":[";
  bool first = true;
  for (const queue::Recipient& r : m.recipients) {
    if (!first) out += ',';
    first = false;
    out += "{\"address\":";
    api::append_json_string(out, r.address);
    out += fmt::format(",\"state\":\"{}\",\"attempts\":{},\"last_reply\":", queue::to_string(r.state), r.attempts);
    append_reply_json(out, r.last_reply);
    out += ",\"updated_at\":\"" + rfc3339_ms(r.updated_at_ms ? r.updated_at_ms : m.created_at_ms) + "\"";
    // A deferred recipient's next try: the retry schedule's, or the end of the suspension
    // that holds it (docs/shaping.md "Held mail"). Absent when not known (after a restart).
    if (r.state == queue::RecipientState::deferred && r.next_attempt_at_ms > 0)
      out += ",\"next_attempt_at\":\"" + rfc3339_ms(r.next_attempt_at_ms) + "\"";
    if (!r.site.empty()) {
      out += ",\"site\":";
      api::append_json_string(out, r.site);
    }
    // Unfinished when the process last stopped: the attempt in flight then may have reached
    // the receiver, so a delivery after this may be the second one (at least once).
    if (r.recovered) out += ",\"recovered\":true";
    // What kind of failure, for agents that must not parse replies (RFC 3463 codes and text).
    if (r.last_reply.code >= 400)
      out += fmt::format(",\"classification\":\"{}\"",
                         api::classify_bounce(r.last_reply.code, r.last_reply.enhanced, r.last_reply.text));
    if (!r.history.empty()) {
      out += ",\"history\":[";
      for (std::size_t i = 0; i < r.history.size(); ++i) {
        const queue::Attempt& a = r.history[i];
        if (i) out += ',';
        out += fmt::format("{{\"at\":\"{}\",\"state\":\"{}\",\"host\":", rfc3339_ms(a.at_ms), queue::to_string(a.state));
        if (a.host.empty()) out += "null";
        else api::append_json_string(out, a.host);
        out += ",\"reply\":";
        append_reply_json(out, a.reply);
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace ringpost::engine
