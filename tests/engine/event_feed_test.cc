// The event feed's bound ([limits] event_feed_max): paging within it is unchanged; past it the
// oldest events are dropped and a cursor that missed some is expired (410 cursor_expired with
// the oldest valid cursor), while the cursor of the last event dropped, the beginning, and a
// cursor from before a restart are not. Also the webhook dispatcher's notice for such a gap.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "engine/http/event_feed.h"
#include "engine/http/status_store.h"
#include "engine/http/webhooks.h"

namespace ringpost::engine {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

FeedEvent event(std::string id, smtp::Reply reply = {}) {
  FeedEvent e;
  e.type = "delivered";
  e.message_id = std::move(id);
  e.recipient = "r@dest.test";
  e.owner = "agent";
  e.reply = std::move(reply);
  return e;
}

FeedCursor cursor_of(const FeedEvent& e) { return FeedCursor{e.at_ms, e.n}; }

std::vector<std::string> ids(const std::vector<FeedEvent>& events) {
  std::vector<std::string> out;
  for (const FeedEvent& e : events) out.push_back(e.message_id);
  return out;
}

TEST(EventFeed, PagingWithinCapacityIsUnchanged) {
  EventFeed feed(10);
  feed.append(event("a"), kT0);
  feed.append(event("b"), kT0);  // same millisecond: n = 1
  feed.append(event("c"), kT0 + 5);
  feed.append(event("d"), kT0 + 3);  // clamped: feed time never goes back
  auto first = feed.after(FeedCursor{}, 2, "agent", false);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(first[1].cursor(), fmt::format("{}.1", kT0));
  auto rest = feed.after(cursor_of(first.back()), 10, "agent", false);
  EXPECT_EQ(ids(rest), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(rest[1].cursor(), fmt::format("{}.1", kT0 + 5));
  EXPECT_TRUE(feed.after(cursor_of(rest.back()), 10, "agent", false).empty());
  EXPECT_TRUE(feed.after(FeedCursor{}, 10, "someone-else", false).empty()) << "a key sees only its own";
  for (const FeedEvent& e : first) EXPECT_FALSE(feed.expired(cursor_of(e)));
  EXPECT_FALSE(feed.expired(FeedCursor{}));
  EXPECT_EQ(feed.oldest_cursor().text(), "") << "nothing dropped: the beginning is the oldest cursor";
}

TEST(EventFeed, ACursorThatMissedDroppedEventsIsExpired) {
  std::vector<std::string> hits;
  EventFeed feed(3, 512, [&](std::string_view l) { hits.emplace_back(l); });
  std::vector<FeedCursor> cursors;
  for (int i = 0; i < 6; ++i) {
    feed.append(event(fmt::format("m{}", i)), kT0 + i);
    cursors.push_back(FeedCursor{kT0 + i, 0});
  }
  EXPECT_EQ(feed.size(), 3u);
  EXPECT_EQ(hits, (std::vector<std::string>{"event_feed_max", "event_feed_max", "event_feed_max"}));
  // m0..m2 are gone. A consumer at m0 or m1 missed m1/m2: expired.
  EXPECT_TRUE(feed.expired(cursors[0]));
  EXPECT_TRUE(feed.expired(cursors[1]));
  EXPECT_TRUE(feed.expired(FeedCursor{0, 0}));
  // At m2 (the last one dropped) nothing was missed: the next event, m3, is still here.
  EXPECT_FALSE(feed.expired(cursors[2])) << "the boundary cursor is valid";
  EXPECT_EQ(feed.oldest_cursor(), cursors[2]);
  EXPECT_EQ(feed.oldest_cursor().text(), fmt::format("{}.0", kT0 + 2));
  EXPECT_EQ(ids(feed.after(feed.oldest_cursor(), 10, "agent", false)), (std::vector<std::string>{"m3", "m4", "m5"}));
  EXPECT_FALSE(feed.expired(cursors[3]));
  EXPECT_FALSE(feed.expired(FeedCursor{})) << "no `after`: a new consumer starts at the oldest kept";
  EXPECT_EQ(ids(feed.after(FeedCursor{}, 10, "agent", false)), (std::vector<std::string>{"m3", "m4", "m5"}));
}

TEST(EventFeed, BoundaryWithinOneMillisecond) {
  EventFeed feed(2);
  for (int i = 0; i < 5; ++i) feed.append(event(fmt::format("m{}", i)), kT0);  // n = 0..4
  // Dropped: n = 0, 1, 2. Kept: n = 3, 4.
  EXPECT_TRUE(feed.expired(FeedCursor{kT0, 1}));
  EXPECT_FALSE(feed.expired(FeedCursor{kT0, 2}));
  EXPECT_EQ(feed.oldest_cursor(), (FeedCursor{kT0, 2}));
  EXPECT_TRUE(feed.expired(FeedCursor{kT0 - 1, 99}));
}

TEST(EventFeed, ACursorBetweenTheLastDroppedAndTheOldestKeptIsValid) {
  EventFeed feed(1);
  feed.append(event("old"), kT0);
  feed.append(event("new"), kT0 + 1000);
  // A consumer that saw "old" and then polled at kT0 + 500 (a cursor from another process,
  // or made up): nothing it had not seen was dropped.
  EXPECT_FALSE(feed.expired(FeedCursor{kT0 + 500, 3}));
  EXPECT_TRUE(feed.expired(FeedCursor{kT0 - 1, 0}));
}

// After a restart the feed is rebuilt from the spool and nothing is dropped: an old cursor
// (from the previous process's file) pages on from what was rebuilt, as before.
TEST(EventFeed, ACursorFromBeforeARestartIsNotExpiredWhenNothingWasDropped) {
  EventFeed rebuilt(100);
  rebuilt.append(event("a"), kT0 + 10'000);
  rebuilt.append(event("b"), kT0 + 20'000);
  const FeedCursor from_before{kT0, 7};
  EXPECT_FALSE(rebuilt.expired(from_before));
  EXPECT_EQ(ids(rebuilt.after(from_before, 10, "agent", false)), (std::vector<std::string>{"a", "b"}));
}

TEST(EventFeed, ReplyTextIsCutToStoredReplyBytes) {
  EventFeed feed(10, 80);
  feed.append(event("m", smtp::Reply{550, "5.7.1", std::string(64 * 1024, 'x')}), kT0);
  auto page = feed.after(FeedCursor{}, 10, "agent", false);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].reply.text.size(), 80u);
  EXPECT_TRUE(page[0].reply.text.ends_with(kTruncatedMarker));
  const std::string json = feed_json(page, "");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view text;
  ASSERT_EQ(doc["events"].at(0)["reply"]["text"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text.size(), 80u);
}

TEST(EventFeed, EveryFieldComesBackAsAppended) {
  EventFeed feed(10);
  FeedEvent e = event("01JEXAMPLEMESSAGEID000000", smtp::Reply{451, "4.7.1", "try later\nsecond line"});
  e.type = "deferred";
  e.recipient = "someone.with.a.long.address@destination.example.test";
  e.attempts = 3;
  e.tags_json = R"({"campaign":"winter"})";
  feed.append(e, kT0 + 7);
  feed.append(event("next"), kT0 + 8);
  auto page = feed.after(FeedCursor{}, 10, "agent", false);
  ASSERT_EQ(page.size(), 2u);
  const FeedEvent& got = page[0];
  EXPECT_EQ(got.type, "deferred");
  EXPECT_EQ(got.message_id, e.message_id);
  EXPECT_EQ(got.recipient, e.recipient);
  EXPECT_EQ(got.owner, "agent");
  EXPECT_EQ(got.attempts, 3u);
  EXPECT_EQ(got.reply, e.reply);
  EXPECT_EQ(got.tags_json, e.tags_json);
  EXPECT_EQ(got.at_ms, kT0 + 7);
  EXPECT_EQ(page[1].message_id, "next");
  EXPECT_TRUE(page[1].tags_json.empty());
}

// The feed's storage is its events' bytes in chunks, freed as the oldest events drop: a
// feed that has seen 50,000 events holds the chunks of the last 100, not of all of them.
TEST(EventFeed, StorageFollowsTheEventsKeptNotTheEventsSeen) {
  EventFeed feed(100);
  for (int i = 0; i < 50'000; ++i) feed.append(event(fmt::format("message-{:08}", i)), kT0 + i);
  EXPECT_EQ(feed.size(), 100u);
  EXPECT_LE(feed.chunk_bytes(), 2u * 64 * 1024) << "chunks of dropped events were kept";
  EXPECT_EQ(ids(feed.after(FeedCursor{kT0 + 49'997, 0}, 10, "agent", false)),
            (std::vector<std::string>{"message-00049998", "message-00049999"}));
  // An event larger than a chunk (long tags) gets a chunk of its own and reads back whole.
  FeedEvent big = event("big");
  big.tags_json = R"({"t":")" + std::string(100 * 1024, 'x') + R"("})";
  feed.append(big, kT0 + 60'000);
  auto last = feed.after(FeedCursor{kT0 + 49'999, 0}, 10, "agent", false);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].tags_json, big.tags_json);
}

TEST(EventFeed, CursorExpiredAnswerKeepsTheErrorShape) {
  const std::string json = cursor_expired_json("1700000000000.4", FeedCursor{kT0 + 9, 2}, 200000);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view code, message, oldest, limit;
  uint64_t value = 0;
  ASSERT_EQ(doc["error"]["code"].get(code), simdjson::SUCCESS) << json;
  EXPECT_EQ(code, "cursor_expired");
  ASSERT_EQ(doc["error"]["message"].get(message), simdjson::SUCCESS);
  EXPECT_NE(message.find("1700000000000.4"), std::string_view::npos) << message;
  ASSERT_EQ(doc["error"]["oldest_cursor"].get(oldest), simdjson::SUCCESS) << json;
  EXPECT_EQ(oldest, fmt::format("{}.2", kT0 + 9));
  ASSERT_EQ(doc["error"]["limit"]["name"].get(limit), simdjson::SUCCESS) << json;
  EXPECT_EQ(limit, "event_feed_max");
  ASSERT_EQ(doc["error"]["limit"]["value"].get(value), simdjson::SUCCESS);
  EXPECT_EQ(value, 200000u);
}

TEST(WebhookFeedGap, NoticeNamesTheExpiredAndTheResumeCursor) {
  const std::string body = feed_gap_notice("1700000000000.4", "1700000000123.0", kT0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  simdjson::dom::array events;
  ASSERT_EQ(doc["events"].get(events), simdjson::SUCCESS);
  ASSERT_EQ(events.size(), 1u);
  std::string_view type, cursor, oldest, resumed, at;
  ASSERT_EQ(events.at(0)["type"].get(type), simdjson::SUCCESS);
  ASSERT_EQ(events.at(0)["cursor"].get(cursor), simdjson::SUCCESS);
  ASSERT_EQ(events.at(0)["oldest_cursor"].get(oldest), simdjson::SUCCESS);
  ASSERT_EQ(events.at(0)["resumed_after"].get(resumed), simdjson::SUCCESS);
  ASSERT_EQ(events.at(0)["at"].get(at), simdjson::SUCCESS);
  EXPECT_EQ(type, "cursor_expired");
  EXPECT_EQ(cursor, "1700000000000.4");
  EXPECT_EQ(oldest, "1700000000123.0");
  EXPECT_EQ(resumed, "1700000000123.0");
  EXPECT_EQ(at, "2023-11-14T22:13:20.000Z");
}

}  // namespace
}  // namespace ringpost::engine
