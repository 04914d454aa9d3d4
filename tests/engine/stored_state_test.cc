// The bounds on stored state (docs/security.md "Stored state"): the status store's caps by
// count and by bytes evict the message that finished longest ago and never one with a queued
// or deferred recipient; retention by finish time; the idempotency store's caps; reply texts
// cut to stored_reply_bytes on a UTF-8 boundary. Times are passed in: no clock, no sleeps.
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/http/idempotency.h"
#include "engine/http/status_store.h"

namespace ringpost::engine {
namespace {

using S = queue::RecipientState;

constexpr int64_t kT0 = 1'700'000'000'000;
const smtp::Reply kOk{250, "2.0.0", "Ok"};
const smtp::Reply kBusy{451, "4.3.0", "Try again later"};

queue::Message msg(const std::string& id, int recipients = 1, std::size_t metadata_bytes = 0) {
  queue::Message m;
  m.id = id;
  m.from = "agent@example.test";
  m.created_at_ms = kT0;
  if (metadata_bytes) m.metadata_json = "{\"x\":\"" + std::string(metadata_bytes - 8, 'm') + "\"}";
  for (int i = 0; i < recipients; ++i)
    m.recipients.push_back(queue::Recipient{fmt::format("r{}@dest.test", i), S::queued, 0, {}, kT0, {}, false, {}});
  return m;
}

// The limit names a store reports, as the front's metric counts them.
struct Hits {
  std::vector<std::string> names;
  std::function<void(std::string_view)> fn() {
    return [this](std::string_view l) { names.emplace_back(l); };
  }
};

uint64_t sum_of_message_bytes(const StatusStore& s, const std::vector<std::string>& ids) {
  uint64_t n = 0;
  for (const std::string& id : ids)
    if (const queue::Message* m = s.find(id)) n += message_bytes(*m);
  return n;
}

// A valid UTF-8 string (RFC 3629: no overlongs checks needed here, only sequence shape).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// ---- StatusStore caps ----

TEST(StatusStoreCap, ByCountEvictsTheMessageThatFinishedLongestAgo) {
  Hits hits;
  StatusStore s(StatusLimits{.max_messages = 3}, hits.fn());
  s.add(msg("m1"));
  s.add(msg("m2"));
  s.add(msg("m3"));
  // m2 finishes before m1 although it was accepted after it: finish time decides.
  ASSERT_TRUE(s.apply("m2", 0, S::delivered, 1, kOk, kT0 + 20));
  ASSERT_TRUE(s.apply("m1", 0, S::bounced, 1, kBusy, kT0 + 30));
  EXPECT_EQ(s.messages(), 3u);
  EXPECT_TRUE(hits.names.empty());

  s.add(msg("m4"));
  EXPECT_EQ(s.messages(), 3u);
  EXPECT_EQ(s.find("m2"), nullptr) << "the message that finished first goes first";
  EXPECT_NE(s.find("m1"), nullptr);
  EXPECT_NE(s.find("m3"), nullptr);
  EXPECT_NE(s.find("m4"), nullptr);
  EXPECT_EQ(s.evictions(), 1u);
  EXPECT_EQ(hits.names, (std::vector<std::string>{"status_max_messages"}));
  EXPECT_EQ(s.count(S::delivered), 0u) << "the evicted message's recipients leave the counts";
  EXPECT_EQ(s.count(S::bounced), 1u);
  EXPECT_EQ(s.count(S::queued), 2u);

  s.add(msg("m5"));
  EXPECT_EQ(s.find("m1"), nullptr);
  EXPECT_EQ(s.evictions(), 2u);
  EXPECT_EQ(s.messages(), 3u);
}

TEST(StatusStoreCap, NeverEvictsAMessageWithAQueuedOrDeferredRecipient) {
  Hits hits;
  StatusStore s(StatusLimits{.max_messages = 2}, hits.fn());
  s.add(msg("partly", 2));
  ASSERT_TRUE(s.apply("partly", 0, S::delivered, 1, kOk, kT0 + 1));  // one final, one still queued
  s.add(msg("deferred"));
  ASSERT_TRUE(s.apply("deferred", 0, S::deferred, 1, kBusy, kT0 + 2));
  s.add(msg("queued"));
  // Only unfinished messages: over the cap rather than lose a queued message's state.
  EXPECT_EQ(s.messages(), 3u);
  for (const char* id : {"partly", "deferred", "queued"}) EXPECT_NE(s.find(id), nullptr) << id;
  EXPECT_EQ(s.evictions(), 0u);
  EXPECT_TRUE(hits.names.empty());

  // The event that finishes a message leaves it in place: the front reads it right after.
  ASSERT_TRUE(s.apply("partly", 1, S::delivered, 1, kOk, kT0 + 3));
  ASSERT_NE(s.find("partly"), nullptr);
  EXPECT_EQ(s.messages(), 3u);
  // The next change makes room with it, and only with it.
  s.add(msg("fourth"));
  EXPECT_EQ(s.find("partly"), nullptr);
  EXPECT_EQ(s.messages(), 3u) << "still over: the rest are unfinished";
  for (const char* id : {"deferred", "queued", "fourth"}) EXPECT_NE(s.find(id), nullptr) << id;
  EXPECT_EQ(hits.names, (std::vector<std::string>{"status_max_messages"}));
}

TEST(StatusStoreCap, ByBytesEvictsTheOldestFinishedUntilUnderTheCap) {
  // About 10 KB a message (its metadata): three fit in 35,000 bytes, four do not.
  Hits hits;
  StatusStore s(StatusLimits{.max_bytes = 35'000}, hits.fn());
  const std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  s.add(msg("a", 1, 10'000));
  s.add(msg("b", 1, 10'000));
  s.add(msg("c", 1, 10'000));
  ASSERT_TRUE(s.apply("c", 0, S::delivered, 1, kOk, kT0 + 5));  // finished first
  ASSERT_TRUE(s.apply("a", 0, S::delivered, 1, kOk, kT0 + 9));
  EXPECT_EQ(s.messages(), 3u);
  EXPECT_EQ(s.bytes(), sum_of_message_bytes(s, ids)) << "the running total matches a recount";
  EXPECT_GT(s.bytes(), 30'000u);
  EXPECT_LE(s.bytes(), 35'000u);

  s.add(msg("d", 1, 10'000));
  EXPECT_EQ(s.find("c"), nullptr) << "finished first, evicted first";
  EXPECT_NE(s.find("a"), nullptr);
  EXPECT_NE(s.find("b"), nullptr);
  EXPECT_NE(s.find("d"), nullptr);
  EXPECT_LE(s.bytes(), 35'000u);
  EXPECT_EQ(s.bytes(), sum_of_message_bytes(s, ids));
  EXPECT_EQ(hits.names, (std::vector<std::string>{"status_max_bytes"}));

  // One big unfinished message: "a" (finished) goes; "b" and "d" are queued and stay although
  // the store is still over its byte cap.
  s.add(msg("e", 1, 30'000));
  EXPECT_EQ(s.find("a"), nullptr);
  EXPECT_NE(s.find("b"), nullptr);
  EXPECT_NE(s.find("d"), nullptr);
  EXPECT_NE(s.find("e"), nullptr);
  EXPECT_GT(s.bytes(), 35'000u);
  EXPECT_EQ(s.evictions(), 2u);
  EXPECT_EQ(s.bytes(), sum_of_message_bytes(s, ids));
}

TEST(StatusStoreCap, BytesFollowRepliesHistoryAndErase) {
  StatusStore s;
  s.add(msg("m", 2));
  const uint64_t fresh = s.bytes();
  EXPECT_EQ(fresh, message_bytes(*s.find("m")));
  for (uint32_t a = 1; a <= 15; ++a) ASSERT_TRUE(s.apply("m", 0, S::deferred, a, kBusy, kT0 + a, "site", "mx.test"));
  EXPECT_EQ(s.find("m")->recipients[0].history.size(), queue::kMaxAttemptHistory);
  EXPECT_EQ(s.bytes(), message_bytes(*s.find("m")));
  EXPECT_GT(s.bytes(), fresh);
  s.erase("m");
  EXPECT_EQ(s.bytes(), 0u);
  EXPECT_EQ(s.messages(), 0u);
}

// Recovery adds finished messages in acceptance order; their finish time is their latest
// update, and that is the order they are evicted in.
TEST(StatusStoreCap, RecoveredFinishedMessagesAreEvictedByTheirLastUpdate) {
  StatusStore s(StatusLimits{.max_messages = 2});
  auto finished = [](const std::string& id, int64_t updated) {
    queue::Message m = msg(id);
    m.recipients[0].state = S::delivered;
    m.recipients[0].updated_at_ms = updated;
    return m;
  };
  s.add(finished("early-accept-late-finish", kT0 + 500));
  s.add(finished("late-accept-early-finish", kT0 + 100));
  s.add(msg("new"));
  EXPECT_EQ(s.find("late-accept-early-finish"), nullptr);
  EXPECT_NE(s.find("early-accept-late-finish"), nullptr);
  EXPECT_NE(s.find("new"), nullptr);
}

TEST(StatusStoreRetention, ForgetsFinishedMessagesByFinishTimeOnly) {
  StatusStore s;
  s.add(msg("queued-long"));  // accepted at kT0, never finished
  s.add(msg("early"));
  s.add(msg("late"));
  ASSERT_TRUE(s.apply("early", 0, S::delivered, 1, kOk, kT0 + 10));
  ASSERT_TRUE(s.apply("late", 0, S::expired, 3, kBusy, kT0 + 100));
  EXPECT_EQ(s.expire_finished_before(kT0 + 10), 0u) << "finished at the horizon: kept";
  EXPECT_EQ(s.expire_finished_before(kT0 + 50), 1u);
  EXPECT_EQ(s.find("early"), nullptr);
  EXPECT_NE(s.find("late"), nullptr);
  EXPECT_NE(s.find("queued-long"), nullptr) << "an unfinished message never expires";
  EXPECT_EQ(s.expire_finished_before(kT0 + 1'000'000), 1u);
  EXPECT_EQ(s.messages(), 1u);
}

// ---- stored reply truncation ----

TEST(StoredReply, StatusKeepsAtMostStoredReplyBytesOfEachReply) {
  Hits hits;
  StatusStore s(StatusLimits{.reply_bytes = 100}, hits.fn());
  s.add(msg("m"));
  const smtp::Reply huge{550, "5.7.1", std::string(64 * 1024, 'x')};
  ASSERT_TRUE(s.apply("m", 0, S::bounced, 1, huge, kT0 + 1));
  const queue::Recipient& r = s.find("m")->recipients[0];
  EXPECT_EQ(r.last_reply.text.size(), 100u);
  EXPECT_EQ(r.last_reply.text, std::string(100 - kTruncatedMarker.size(), 'x') + std::string(kTruncatedMarker));
  EXPECT_EQ(r.last_reply.code, 550);
  EXPECT_EQ(r.last_reply.enhanced, "5.7.1");
  ASSERT_EQ(r.history.size(), 1u);
  EXPECT_EQ(r.history[0].reply.text, r.last_reply.text) << "the attempt history is cut the same way";
  EXPECT_LT(s.bytes(), 2'000u) << "64 KiB of reply must not be what the store holds";
  EXPECT_EQ(hits.names, (std::vector<std::string>{"stored_reply_bytes"}));
  ASSERT_TRUE(s.apply("m", 0, S::bounced, 2, kBusy, kT0 + 2));  // short: not counted
  EXPECT_EQ(hits.names.size(), 1u);

  // Recovery hands over what the spool has: cut as well.
  queue::Message recovered = msg("r");
  recovered.recipients[0].state = S::bounced;
  recovered.recipients[0].last_reply = huge;
  s.add(std::move(recovered));
  EXPECT_EQ(s.find("r")->recipients[0].last_reply.text.size(), 100u);
}

TEST(StoredReply, ShortTextIsKeptWhole) {
  std::string t(64, 'a');
  EXPECT_FALSE(truncate_stored_text(t, 64));
  EXPECT_EQ(t, std::string(64, 'a'));
  std::string empty;
  truncate_stored_text(empty, 64);
  EXPECT_EQ(empty, "");
}

TEST(StoredReply, CutsToTheLimitWithTheMarker) {
  std::string t(65, 'a');
  EXPECT_TRUE(truncate_stored_text(t, 64));
  EXPECT_EQ(t.size(), 64u);
  EXPECT_EQ(t, std::string(50, 'a') + "...[truncated]");
}

TEST(StoredReply, NeverSplitsAMultiByteCharacterAtTheCut) {
  // 64 bytes allowed: 50 of text, then the 14-byte marker. A three-byte euro sign starting at
  // byte 49 straddles the cut: it goes whole.
  std::string t = std::string(49, 'a') + "\xE2\x82\xAC" + std::string(100, 'b');
  truncate_stored_text(t, 64);
  EXPECT_EQ(t, std::string(49, 'a') + "...[truncated]");
  EXPECT_TRUE(valid_utf8(t));

  // A character that ends exactly at the cut is kept.
  std::string fits = std::string(48, 'a') + "\xC3\xA9" + std::string(100, 'b');
  truncate_stored_text(fits, 64);
  EXPECT_EQ(fits, std::string(48, 'a') + "\xC3\xA9" + "...[truncated]");

  // A four-byte character at every offset around the cut: always valid UTF-8, a prefix of the
  // original, at most 64 bytes.
  for (std::size_t at = 44; at <= 52; ++at) {
    const std::string original = std::string(at, 'a') + "\xF0\x9F\x98\x80" + std::string(100, 'c');
    std::string cut = original;
    truncate_stored_text(cut, 64);
    EXPECT_LE(cut.size(), 64u) << at;
    EXPECT_TRUE(valid_utf8(cut)) << at;
    ASSERT_TRUE(cut.ends_with(kTruncatedMarker)) << at;
    const std::string kept = cut.substr(0, cut.size() - kTruncatedMarker.size());
    EXPECT_EQ(original.compare(0, kept.size(), kept), 0) << at;
    EXPECT_GE(kept.size(), 47u) << at << ": more than one character was dropped";
  }
}

// ---- LocalIdempotencyStore caps ----

IdempotentAnswer answer(int64_t expires, int status = 202, std::size_t body_bytes = 40) {
  return IdempotentAnswer{std::string(64, 'h'), status, std::string(body_bytes, 'b'), expires};
}

constexpr int64_t kTtl = IdempotencyStore::kTtlMs;

TEST(IdempotencyCap, ByCountEvictsTheOldestAnswer) {
  Hits hits;
  LocalIdempotencyStore s(IdempotencyLimits{.max_keys = 3}, hits.fn());
  for (int i = 1; i <= 3; ++i) s.put("agent", fmt::format("k{}", i), answer(kT0 + i + kTtl));
  EXPECT_EQ(s.size(), 3u);
  s.put("agent", "k4", answer(kT0 + 4 + kTtl));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.find("agent", "k1", kT0 + 5), nullptr) << "the oldest key goes first";
  for (const char* k : {"k2", "k3", "k4"}) EXPECT_NE(s.find("agent", k, kT0 + 5), nullptr) << k;
  EXPECT_EQ(s.evictions(), 1u);
  EXPECT_EQ(hits.names, (std::vector<std::string>{"idempotency_max_keys"}));
  // Replacing a key's entry (in progress → answered) is not a new key.
  s.put("agent", "k4", answer(kT0 + 4 + kTtl, 202, 80));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.evictions(), 1u);
}

TEST(IdempotencyCap, NeverEvictsARequestStillInProgress) {
  LocalIdempotencyStore s(IdempotencyLimits{.max_keys = 2});
  s.put("agent", "in-flight", answer(kT0 + kTtl, /*status=*/0));
  s.put("agent", "done", answer(kT0 + 1 + kTtl));
  s.put("agent", "newest", answer(kT0 + 2 + kTtl));
  EXPECT_NE(s.find("agent", "in-flight", kT0), nullptr) << "dropping it would let its retry in twice";
  EXPECT_EQ(s.find("agent", "done", kT0), nullptr);
  EXPECT_NE(s.find("agent", "newest", kT0), nullptr);
  EXPECT_EQ(s.evictions(), 1u);
}

TEST(IdempotencyCap, ByBytesEvictsTheOldestUntilUnderTheCap) {
  Hits hits;
  const uint64_t one = LocalIdempotencyStore::entry_bytes("agent", "k1", answer(0, 202, 5'000));
  LocalIdempotencyStore s(IdempotencyLimits{.max_bytes = 3 * one + one / 2}, hits.fn());
  for (int i = 1; i <= 3; ++i) s.put("agent", fmt::format("k{}", i), answer(kT0 + i + kTtl, 202, 5'000));
  EXPECT_EQ(s.bytes(), 3 * one);
  EXPECT_EQ(s.evictions(), 0u);
  s.put("agent", "k4", answer(kT0 + 4 + kTtl, 202, 5'000));
  EXPECT_EQ(s.bytes(), 3 * one);
  EXPECT_EQ(s.find("agent", "k1", kT0), nullptr);
  EXPECT_EQ(hits.names, (std::vector<std::string>{"idempotency_max_bytes"}));
  // One answer bigger than the whole cap pushes out everything older, and is kept itself.
  s.put("agent", "huge", answer(kT0 + 5 + kTtl, 202, 50'000));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_NE(s.find("agent", "huge", kT0), nullptr);
  EXPECT_EQ(s.evictions(), 4u);
  s.erase("agent", "huge");
  EXPECT_EQ(s.bytes(), 0u);
}

TEST(IdempotencyCap, ExpiryFollowsEachKeysTimeInWhateverOrderTheyWereStored) {
  // Recovery stores answers in key order, not time order.
  LocalIdempotencyStore s;
  s.put("agent", "late", answer(kT0 + 100));
  s.put("agent", "early", answer(kT0 + 50));
  EXPECT_EQ(s.find("agent", "early", kT0 + 60), nullptr);
  EXPECT_NE(s.find("agent", "late", kT0 + 60), nullptr);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.find("agent", "late", kT0 + 100), nullptr) << "expires at its time";
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.bytes(), 0u);
  EXPECT_EQ(s.evictions(), 0u) << "expiry is not eviction";
}

}  // namespace
}  // namespace ringpost::engine
