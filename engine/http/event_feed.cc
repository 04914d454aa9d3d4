// See event_feed.h.
#include "engine/http/event_feed.h"

#include <algorithm>
#include <charconv>

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

void EventFeed::append(FeedEvent e, int64_t at_ms) {
  if (at_ms <= last_ms_) {
    e.at_ms = last_ms_;
    e.n = ++last_n_;
  } else {
    e.at_ms = last_ms_ = at_ms;
    e.n = last_n_ = 0;
  }
  truncate_stored_text(e.reply.text, reply_bytes_);
  events_.push_back(std::move(e));
  if (events_.size() > capacity_) {
    last_dropped_ = FeedCursor{events_.front().at_ms, events_.front().n};
    dropped_ = true;
    events_.pop_front();
    if (on_limit_) on_limit_("event_feed_max");
  }
}

std::vector<const FeedEvent*> EventFeed::after(const FeedCursor& cursor, std::size_t limit, const std::string& owner,
                                               bool all) const {
  // Events are sorted by (at_ms, n): binary search for the first one past the cursor.
  auto it = std::upper_bound(events_.begin(), events_.end(), cursor, [](const FeedCursor& c, const FeedEvent& e) {
    return c.at_ms < e.at_ms || (c.at_ms == e.at_ms && c.n < e.n);
  });
  std::vector<const FeedEvent*> out;
  for (; it != events_.end() && out.size() < limit; ++it)
    if (all || it->owner == owner) out.push_back(&*it);
  return out;
}

std::string feed_json(const std::vector<const FeedEvent*>& events, const std::string& cursor) {
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const FeedEvent& e = *events[i];
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
  api::append_json_string(out, events.empty() ? cursor : events.back()->cursor());
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
