// StatusStore: per-state counts, the "final is never replaced by non-final" rule, and the JSON
// that GET /v1/messages/{id} returns, parsed back with simdjson rather than compared as text.
#include "engine/http/status_store.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <ctime>

namespace ringpost::engine {
namespace {

using queue::RecipientState;
using S = RecipientState;

constexpr int64_t kCreated = 1'700'000'000'123;  // 2023-11-14T22:13:20.123Z

queue::Message make_message(std::string id, std::vector<std::string> rcpts) {
  queue::Message m;
  m.id = std::move(id);
  m.from = "agent@example.test";
  m.created_at_ms = kCreated;
  for (auto& a : rcpts) {
    queue::Recipient r;
    r.address = std::move(a);
    m.recipients.push_back(std::move(r));
  }
  m.body = std::make_shared<const std::string>("Subject: hi\r\n\r\nbody\r\n");
  return m;
}

struct Counts {
  uint64_t queued, deferred, delivered, bounced, expired;
  bool operator==(const Counts&) const = default;
};
Counts counts(const StatusStore& s) {
  return {s.count(S::queued), s.count(S::deferred), s.count(S::delivered), s.count(S::bounced), s.count(S::expired)};
}
void PrintTo(const Counts& c, std::ostream* os) {
  *os << "{q=" << c.queued << " def=" << c.deferred << " del=" << c.delivered << " b=" << c.bounced
      << " e=" << c.expired << "}";
}

const smtp::Reply kOk{250, "2.0.0", "Ok: queued as 4F2A"};
const smtp::Reply kBusy{451, "4.3.0", "Try again later"};
const smtp::Reply kNoUser{550, "5.1.1", "No such user"};

TEST(StatusStore, AddCountsRecipientsAndDropsTheBody) {
  StatusStore s;
  s.add(make_message("m1", {"a@x.test", "b@y.test", "c@x.test"}));
  s.add(make_message("m2", {"d@z.test"}));
  EXPECT_EQ(s.messages(), 2u);
  EXPECT_EQ(counts(s), (Counts{4, 0, 0, 0, 0}));
  const queue::Message* m = s.find("m1");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->recipients.size(), 3u);
  EXPECT_EQ(m->recipients[1].address, "b@y.test");
  EXPECT_FALSE(m->body) << "the store keeps status only, not message bodies";
  EXPECT_EQ(s.find("nope"), nullptr);
}

TEST(StatusStore, ApplyMovesCountsAndRecordsTheOutcome) {
  StatusStore s;
  s.add(make_message("m1", {"a@x.test", "b@y.test"}));

  ASSERT_TRUE(s.apply("m1", 0, S::deferred, 1, kBusy, kCreated + 1000));
  EXPECT_EQ(counts(s), (Counts{1, 1, 0, 0, 0}));
  ASSERT_TRUE(s.apply("m1", 0, S::delivered, 2, kOk, kCreated + 61'000));
  EXPECT_EQ(counts(s), (Counts{1, 0, 1, 0, 0}));
  ASSERT_TRUE(s.apply("m1", 1, S::bounced, 1, kNoUser, kCreated + 2000));
  EXPECT_EQ(counts(s), (Counts{0, 0, 1, 1, 0}));

  const queue::Message* m = s.find("m1");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->recipients[0].state, S::delivered);
  EXPECT_EQ(m->recipients[0].attempts, 2u);
  EXPECT_EQ(m->recipients[0].last_reply, kOk);
  EXPECT_EQ(m->recipients[0].updated_at_ms, kCreated + 61'000);
  EXPECT_EQ(m->recipients[1].state, S::bounced);
  EXPECT_EQ(m->recipients[1].last_reply, kNoUser);
}

TEST(StatusStore, FinalStateIsNotReplacedByNonFinal) {
  StatusStore s;
  s.add(make_message("m1", {"a@x.test"}));
  ASSERT_TRUE(s.apply("m1", 0, S::delivered, 1, kOk, kCreated + 500));

  // A late "deferred" (e.g. from a connection that timed out after the message got through).
  EXPECT_TRUE(s.apply("m1", 0, S::deferred, 2, kBusy, kCreated + 900));
  EXPECT_TRUE(s.apply("m1", 0, S::queued, 3, smtp::Reply{}, kCreated + 901));
  const queue::Recipient& r = s.find("m1")->recipients[0];
  EXPECT_EQ(r.state, S::delivered);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.last_reply, kOk);
  EXPECT_EQ(r.updated_at_ms, kCreated + 500);
  EXPECT_EQ(counts(s), (Counts{0, 0, 1, 0, 0}));
}

TEST(StatusStore, UnknownIdOrRecipientIsFalseAndChangesNothing) {
  StatusStore s;
  s.add(make_message("m1", {"a@x.test", "b@x.test"}));
  EXPECT_FALSE(s.apply("m2", 0, S::delivered, 1, kOk, kCreated));
  EXPECT_FALSE(s.apply("m1", 2, S::delivered, 1, kOk, kCreated));
  EXPECT_FALSE(s.apply("m1", UINT32_MAX, S::delivered, 1, kOk, kCreated));
  EXPECT_FALSE(s.apply("", 0, S::delivered, 1, kOk, kCreated));
  EXPECT_EQ(counts(s), (Counts{2, 0, 0, 0, 0}));
  EXPECT_EQ(s.find("m1")->recipients[0].state, S::queued);
}

// Re-adding an id (recovery plus a replayed ACCEPT) must not inflate /v1/stats.
TEST(StatusStore, ReAddingAnIdKeepsCountsConsistent) {
  StatusStore s;
  s.add(make_message("m1", {"a@x.test", "b@x.test"}));
  ASSERT_TRUE(s.apply("m1", 0, S::delivered, 1, kOk, kCreated + 1));
  s.add(make_message("m1", {"a@x.test", "b@x.test"}));
  EXPECT_EQ(s.messages(), 1u);
  // Whatever add() does with the second copy, the counts must describe what is stored.
  const queue::Message* m = s.find("m1");
  ASSERT_NE(m, nullptr);
  Counts want{};
  for (const auto& r : m->recipients) {
    if (r.state == S::queued) ++want.queued;
    if (r.state == S::delivered) ++want.delivered;
  }
  EXPECT_EQ(counts(s), want);
}

// ---- rfc3339_ms ----

TEST(Rfc3339Ms, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_ms(kCreated), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(rfc3339_ms(951'782'400'007), "2000-02-29T00:00:00.007Z");  // leap day, leading zeros
  EXPECT_EQ(rfc3339_ms(4'102'444'799'999), "2099-12-31T23:59:59.999Z");
}

TEST(Rfc3339Ms, MatchesTheHeaderExample) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 25;
  tm.tm_hour = 18;
  tm.tm_min = 50;
  tm.tm_sec = 34;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000 + 123;
  EXPECT_EQ(rfc3339_ms(ms), "2026-11-25T18:50:34.123Z");
}

// ---- message_status_json ----

std::string_view get_str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  EXPECT_EQ(e[key].get(v), simdjson::SUCCESS) << key;
  return v;
}
int64_t get_int(simdjson::dom::element e, const char* key) {
  int64_t v = -1;
  EXPECT_EQ(e[key].get(v), simdjson::SUCCESS) << key;
  return v;
}

TEST(MessageStatusJson, HasTheDocumentedFields) {
  StatusStore s;
  s.add(make_message("01M8A1QARMMN7GJ7ZYR0YJMVPT", {"Bob@Example.test", "carol@dest.test"}));
  ASSERT_TRUE(s.apply("01M8A1QARMMN7GJ7ZYR0YJMVPT", 0, S::delivered, 2, kOk, kCreated + 1000));
  const std::string json = message_status_json(*s.find("01M8A1QARMMN7GJ7ZYR0YJMVPT"));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(get_str(doc, "id"), "01M8A1QARMMN7GJ7ZYR0YJMVPT");
  EXPECT_EQ(get_str(doc, "from"), "agent@example.test");
  EXPECT_EQ(get_str(doc, "created_at"), "2023-11-14T22:13:20.123Z");

  simdjson::dom::array rcpts;
  ASSERT_EQ(doc["recipients"].get(rcpts), simdjson::SUCCESS) << json;
  ASSERT_EQ(rcpts.size(), 2u);

  simdjson::dom::element r0 = rcpts.at(0);
  EXPECT_EQ(get_str(r0, "address"), "Bob@Example.test");
  EXPECT_EQ(get_str(r0, "state"), "delivered");
  EXPECT_EQ(get_int(r0, "attempts"), 2);
  EXPECT_EQ(get_str(r0, "updated_at"), "2023-11-14T22:13:21.123Z");
  simdjson::dom::element reply;
  ASSERT_EQ(r0["last_reply"].get(reply), simdjson::SUCCESS);
  EXPECT_EQ(get_int(reply, "code"), 250);
  EXPECT_EQ(get_str(reply, "enhanced"), "2.0.0");
  EXPECT_EQ(get_str(reply, "text"), "Ok: queued as 4F2A");

  // Never tried: state queued, no reply yet (null), updated_at falls back to created_at.
  simdjson::dom::element r1 = rcpts.at(1);
  EXPECT_EQ(get_str(r1, "address"), "carol@dest.test");
  EXPECT_EQ(get_str(r1, "state"), "queued");
  EXPECT_EQ(get_int(r1, "attempts"), 0);
  EXPECT_TRUE(r1["last_reply"].is_null()) << json;
  EXPECT_EQ(get_str(r1, "updated_at"), "2023-11-14T22:13:20.123Z");
}

TEST(MessageStatusJson, EscapesQuotesAndControlsInReplyText) {
  StatusStore s;
  s.add(make_message("m\"1", {"a\"b@x.test"}));
  const smtp::Reply tricky{550, "5.7.1", "Message rejected: \"spam\" score 9.1\\10\nsee https://x.test/why"};
  ASSERT_TRUE(s.apply("m\"1", 0, S::bounced, 1, tricky, kCreated));
  const std::string json = message_status_json(*s.find("m\"1"));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(get_str(doc, "id"), "m\"1");
  simdjson::dom::element r0 = doc["recipients"].at(0);
  EXPECT_EQ(get_str(r0, "address"), "a\"b@x.test");
  EXPECT_EQ(get_str(r0, "state"), "bounced");
  EXPECT_EQ(get_str(r0["last_reply"], "text"), tricky.text);  // round-trips byte for byte
  EXPECT_NE(json.find(R"(\"spam\")"), std::string::npos) << json;
}

TEST(MessageStatusJson, EveryStateNameIsReported) {
  StatusStore s;
  s.add(make_message("m", {"a@t", "b@t", "c@t", "d@t", "e@t"}));
  ASSERT_TRUE(s.apply("m", 1, S::deferred, 1, kBusy, kCreated));
  ASSERT_TRUE(s.apply("m", 2, S::delivered, 1, kOk, kCreated));
  ASSERT_TRUE(s.apply("m", 3, S::bounced, 1, kNoUser, kCreated));
  ASSERT_TRUE(s.apply("m", 4, S::expired, 7, kBusy, kCreated));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string json = message_status_json(*s.find("m"));
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::vector<std::string_view> states;
  for (simdjson::dom::element r : doc["recipients"].get_array()) states.push_back(get_str(r, "state"));
  EXPECT_EQ(states, (std::vector<std::string_view>{"queued", "deferred", "delivered", "bounced", "expired"}));
  EXPECT_EQ(counts(s), (Counts{1, 1, 1, 1, 1}));
}

}  // namespace
}  // namespace ringpost::engine
