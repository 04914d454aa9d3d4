// The event feed behind GET /v1/events (docs/api.md "Events"): accepted, deferred, delivered,
// bounced and expired, one per recipient and state change, in the order the front learned of
// them. Front thread only. A cursor is "<ms>.<n>": the event's feed time and its place among
// events of that millisecond; feed times never go backwards, so a cursor stays meaningful
// after a restart, when the feed is rebuilt from the spool's records (docs/api.md says what
// a consumer may see twice then). Bounded: the oldest events are dropped past `capacity`.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace ringpost::engine {

struct FeedEvent {
  int64_t at_ms = 0;  // feed time (non-decreasing)
  uint32_t n = 0;     // index among events with the same at_ms
  std::string type;   // accepted | deferred | delivered | bounced | expired
  std::string message_id;
  std::string recipient;
  std::string owner;  // the API key that submitted the message; only it sees the event
  uint32_t attempts = 0;
  smtp::Reply reply;
  std::string tags_json;  // the message's tags as a JSON object's text, or empty
  std::string cursor() const;
};

struct FeedCursor {
  int64_t at_ms = -1;
  uint32_t n = 0;
};
// "" → the beginning; otherwise "<ms>.<n>". nullopt when malformed.
std::optional<FeedCursor> parse_cursor(std::string_view text);

class EventFeed {
 public:
  explicit EventFeed(std::size_t capacity = 200000) : capacity_(capacity) {}
  // `at_ms` is clamped so feed times never go backwards.
  void append(FeedEvent e, int64_t at_ms);
  // Up to `limit` events after `cursor` visible to `owner` (empty owner with keys disabled =
  // everything; an admin passes all = true).
  std::vector<const FeedEvent*> after(const FeedCursor& cursor, std::size_t limit, const std::string& owner,
                                      bool all) const;
  std::size_t size() const { return events_.size(); }

 private:
  std::size_t capacity_;
  std::deque<FeedEvent> events_;
  int64_t last_ms_ = -1;
  uint32_t last_n_ = 0;
};

// {"events":[...],"next_cursor":"..."}; next_cursor is the last event's, or `cursor` when none.
std::string feed_json(const std::vector<const FeedEvent*>& events, const std::string& cursor);

}  // namespace ringpost::engine
