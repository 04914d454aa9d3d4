// See event_feed.h.
#include "engine/http/event_feed.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "engine/api/api_error.h"
#include "engine/api/json_escape.h"
#include "engine/http/status_store.h"

namespace ringpost::engine {

std::string FeedEvent::cursor() const { return fmt::format("{}.{}", at_ms, n); }

std::string FeedCursor::text() const { return at_ms < 0 ? std::string() : fmt::format("{}.{}", at_ms, n); }

std::optional<FeedCursor> parse_cursor(std::string_view text) {
  if (text.empty()) return FeedCursor{};
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  FeedCursor c;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + dot, c.at_ms);
  auto [p2, e2] = std::from_chars(text.data() + dot + 1, text.data() + text.size(), c.n);
  if (e1 != std::errc() || e2 != std::errc() || p1 != text.data() + dot || p2 != text.data() + text.size() || c.at_ms < 0)
    return std::nullopt;
  return c;
}

// The fixed part of a stored event; its text fields follow it, in kFields order.
struct EventFeed::Header {
  int64_t at_ms;
  uint32_t n;
  uint32_t attempts;
  int32_t code;
  uint32_t len[7];
};

namespace {
enum Field { kType, kMessageId, kRecipient, kOwner, kEnhanced, kText, kTags, kFields };
constexpr std::size_t kAlign = 8;  // records start at 8-byte offsets (headers are read by memcpy)
std::size_t aligned(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void EventFeed::append(FeedEvent e, int64_t at_ms) {
  if (at_ms <= last_ms_) {
    e.at_ms = last_ms_;
    e.n = ++last_n_;
  } else {
    e.at_ms = last_ms_ = at_ms;
    e.n = last_n_ = 0;
  }
  truncate_stored_text(e.reply.text, reply_bytes_);
  const std::string* text[kFields] = {&e.type, &e.message_id, &e.recipient, &e.owner, &e.reply.enhanced, &e.reply.text,
                                      &e.tags_json};
  Header h{e.at_ms, e.n, e.attempts, e.reply.code, {}};
  std::size_t bytes = sizeof(Header);
  for (int f = 0; f < kFields; ++f) {
    h.len[f] = static_cast<uint32_t>(text[f]->size());
    bytes += text[f]->size();
  }
  bytes = aligned(bytes);
  if (chunks_.empty() || chunks_.back().size - chunks_.back().used < bytes) {
    // A record never spans chunks; one larger than a chunk (long tags) gets a chunk of its own.
    const std::size_t size = std::max(kChunkBytes, bytes);
    chunks_.push_back(Chunk{std::make_unique<char[]>(size), size, 0, 0});
  }
  Chunk& c = chunks_.back();
  char* p = c.data.get() + c.used;
  std::memcpy(p, &h, sizeof h);
  char* q = p + sizeof h;
  for (int f = 0; f < kFields; ++f) {
    std::memcpy(q, text[f]->data(), text[f]->size());
    q += text[f]->size();
  }
  c.used += bytes;
  ++c.events;
  events_.push_back(p);
  if (events_.size() > capacity_) {
    const Header old = header(events_.front());
    last_dropped_ = FeedCursor{old.at_ms, old.n};
    dropped_ = true;
    drop_oldest();
    if (on_limit_) on_limit_("event_feed_max");
  }
}

void EventFeed::drop_oldest() {
  events_.pop_front();
  Chunk& c = chunks_.front();
  if (--c.events > 0) return;
  // Its last event is gone: the chunk goes too, unless it is the one being filled (then it
  // starts over).
  if (chunks_.size() > 1) chunks_.pop_front();
  else c.used = 0;
}

EventFeed::Header EventFeed::header(const char* record) const {
  Header h;
  std::memcpy(&h, record, sizeof h);
  return h;
}

std::string_view EventFeed::field(const char* record, int i) const {
  const Header h = header(record);
  const char* p = record + sizeof(Header);
  for (int f = 0; f < i; ++f) p += h.len[f];
  return {p, h.len[i]};
}

FeedEvent EventFeed::materialize(const char* record) const {
  const Header h = header(record);
  FeedEvent e;
  e.at_ms = h.at_ms;
  e.n = h.n;
  e.attempts = h.attempts;
  e.reply.code = h.code;
  const char* p = record + sizeof(Header);
  std::string* out[kFields] = {&e.type, &e.message_id, &e.recipient, &e.owner, &e.reply.enhanced, &e.reply.text,
                               &e.tags_json};
  for (int f = 0; f < kFields; ++f) {
    out[f]->assign(p, h.len[f]);
    p += h.len[f];
  }
  return e;
}

std::size_t EventFeed::chunk_bytes() const {
  std::size_t n = 0;
  for (const Chunk& c : chunks_) n += c.size;
  return n;
}

std::vector<FeedEvent> EventFeed::after(const FeedCursor& cursor, std::size_t limit, const std::string& owner,
                                        bool all) const {
  // Events are sorted by (at_ms, n): binary search for the first one past the cursor.
  auto it = std::upper_bound(events_.begin(), events_.end(), cursor, [this](const FeedCursor& c, const char* r) {
    const Header h = header(r);
    return c.at_ms < h.at_ms || (c.at_ms == h.at_ms && c.n < h.n);
  });
  std::vector<FeedEvent> out;
  for (; it != events_.end() && out.size() < limit; ++it)
    if (all || field(*it, kOwner) == owner) out.push_back(materialize(*it));
  return out;
}

std::string feed_json(const std::vector<FeedEvent>& events, const std::string& cursor) {
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const FeedEvent& e = events[i];
    if (i) out += ',';
    out += fmt::format(R"({{"cursor":"{}","type":"{}","at":"{}","message_id":)", e.cursor(), e.type, rfc3339_ms(e.at_ms));
    api::append_json_string(out, e.message_id);
    out += ",\"recipient\":";
    api::append_json_string(out, e.recipient);
    if (!e.tags_json.empty()) out += ",\"tags\":" + e.tags_json;
    out += fmt::format(",\"attempts\":{},\"reply\":", e.attempts);
    append_reply_json(out, e.reply);
    out += '}';
  }
  out += "],\"next_cursor\":";
  api::append_json_string(out, events.empty() ? cursor : events.back().cursor());
  out += '}';
  return out;
}

std::string cursor_expired_json(const std::string& cursor, const FeedCursor& oldest, std::size_t capacity) {
  api::ApiError e{410, "cursor_expired",
                  fmt::format("cursor '{}' is older than the events kept (the last {}): the events after it up to "
                              "oldest_cursor were dropped; resume from oldest_cursor",
                              cursor, capacity),
                  "", "event_feed_max", capacity};
  std::string out = api::to_json(e);
  out.resize(out.size() - 2);  // reopen the error object: "...}}"
  out += ",\"oldest_cursor\":";
  api::append_json_string(out, oldest.text());
  out += "}}";
  return out;
}

}  // namespace ringpost::engine
