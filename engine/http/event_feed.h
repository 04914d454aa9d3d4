// The event feed behind GET /v1/events (docs/api.md "Events"): accepted, deferred, delivered,
// bounced and expired, one per recipient and state change, in the order the front learned of
// them. Front thread only. A cursor is "<ms>.<n>": the event's feed time and its place among
// events of that millisecond; feed times never go backwards, so a cursor stays meaningful
// after a restart, when the feed is rebuilt from the spool's records (docs/api.md says what
// a consumer may see twice then). Bounded ([limits] event_feed_max): the oldest events are
// dropped past `capacity`, and a cursor from before the last one dropped is refused (410
// cursor_expired) rather than silently skipping what it missed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
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
  int64_t at_ms = -1;  // -1: the beginning (no `after`)
  uint32_t n = 0;
  auto operator<=>(const FeedCursor&) const = default;
  std::string text() const;  // "<ms>.<n>", or "" for the beginning
};
// "" → the beginning; otherwise "<ms>.<n>". nullopt when malformed.
std::optional<FeedCursor> parse_cursor(std::string_view text);

class EventFeed {
 public:
  // Called once per event dropped for room, with "event_feed_max" (the front counts it).
  using LimitHit = std::function<void(std::string_view limit)>;

  explicit EventFeed(std::size_t capacity = 200000, std::size_t reply_bytes = 512, LimitHit on_limit = {})
      : capacity_(capacity), reply_bytes_(reply_bytes), on_limit_(std::move(on_limit)) {}
  // `at_ms` is clamped so feed times never go backwards. The reply text is cut to
  // `reply_bytes` (truncate_stored_text).
  void append(FeedEvent e, int64_t at_ms);
  // True when events after `cursor` were dropped: the consumer missed some and must be told
  // (410) rather than handed the next page. The beginning ("") never expires, and neither
  // does the cursor of the last event dropped: the next event after it is still here. A
  // cursor from an earlier process (before a restart) is only compared with what this
  // process dropped; the feed it rebuilt from the spool answers it as before.
  bool expired(const FeedCursor& cursor) const { return dropped_ && cursor.at_ms >= 0 && cursor < last_dropped_; }
  // The oldest cursor that is not expired: the last event dropped's, or the beginning.
  FeedCursor oldest_cursor() const { return dropped_ ? last_dropped_ : FeedCursor{}; }
  std::size_t capacity() const { return capacity_; }
  // Up to `limit` events after `cursor` visible to `owner` (empty owner with keys disabled =
  // everything; an admin passes all = true).
  std::vector<FeedEvent> after(const FeedCursor& cursor, std::size_t limit, const std::string& owner, bool all) const;
  std::size_t size() const { return events_.size(); }
  // Bytes of chunks held (for the tests: they are freed as the oldest events drop).
  std::size_t chunk_bytes() const;

 private:
  // Events are stored back to back in chunks of kChunkBytes (a fixed header, then the text
  // fields), not as a FeedEvent with five heap strings each. The feed lives for the process
  // and is appended to during bursts: separately allocated strings landed among the burst's
  // short-lived allocations, and the 1,000 most recent events of the soak kept ~6 MiB of
  // otherwise free heap pages resident after everything else was freed (bench/soak). In
  // chunks, the feed's memory is its bytes, and a chunk is freed when its last event drops.
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  struct Header;
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t size = 0, used = 0, events = 0;
  };
  Header header(const char* record) const;
  FeedEvent materialize(const char* record) const;
  std::string_view field(const char* record, int i) const;
  void drop_oldest();

  std::size_t capacity_;
  std::size_t reply_bytes_;
  LimitHit on_limit_;
  std::deque<Chunk> chunks_;
  std::deque<const char*> events_;  // records, oldest first; the oldest is in chunks_.front()
  bool dropped_ = false;
  FeedCursor last_dropped_;
  int64_t last_ms_ = -1;
  uint32_t last_n_ = 0;
};

// {"events":[...],"next_cursor":"..."}; next_cursor is the last event's, or `cursor` when none.
std::string feed_json(const std::vector<FeedEvent>& events, const std::string& cursor);
// The 410 answer to an expired cursor: {"error":{"code":"cursor_expired","message":...,
// "limit":{"name":"event_feed_max","value":N},"oldest_cursor":"<ms>.<n>"}}.
std::string cursor_expired_json(const std::string& cursor, const FeedCursor& oldest, std::size_t capacity);

}  // namespace ringpost::engine
