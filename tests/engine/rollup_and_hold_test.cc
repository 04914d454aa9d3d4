// Issue 20: the limits of a site several domains share (strictest()), and how a held recipient
// (waiting for a suspension, not an attempt) shows in the status store: deferred with the
// reply and next_attempt_at, attempts and history unchanged.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "engine/delivery/live_policy.h"
#include "engine/http/status_store.h"

namespace ringpost::engine {
namespace {

using S = queue::RecipientState;

TEST(RollupPolicy, EachLimitIsTheStrictestOfTheDomains) {
  DeliveryPolicy a, b;
  a.max_connections = 20;
  b.max_connections = 3;
  a.max_msgs_per_connection = 50;
  b.max_msgs_per_connection = 100;
  a.msgs_per_second = std::nullopt;  // unlimited loses to any rate
  b.msgs_per_second = 10.0;
  a.connections_per_second = 2.0;
  b.connections_per_second = 5.0;
  a.initial_connections = 5;
  b.initial_connections = 2;
  a.idle_timeout = std::chrono::seconds(30);
  b.idle_timeout = std::chrono::seconds(10);
  a.max_recipients_per_message = 100;  // per domain: not merged
  b.max_recipients_per_message = 2;
  a.retry = {std::chrono::minutes(1)};  // the first domain's
  b.retry = {std::chrono::seconds(1)};
  const DeliveryPolicy p = strictest(a, b);
  EXPECT_EQ(p.max_connections, 3u);
  EXPECT_EQ(p.max_msgs_per_connection, 50u);
  EXPECT_EQ(p.msgs_per_second, 10.0);
  EXPECT_EQ(p.connections_per_second, 2.0);
  EXPECT_EQ(p.initial_connections, 2u);
  EXPECT_EQ(p.idle_timeout, std::chrono::seconds(10));
  EXPECT_EQ(p.max_recipients_per_message, 100u);
  EXPECT_EQ(p.retry, a.retry);
  // Order does not change the limits.
  const DeliveryPolicy q = strictest(b, a);
  EXPECT_EQ(q.max_connections, p.max_connections);
  EXPECT_EQ(q.msgs_per_second, p.msgs_per_second);
  EXPECT_EQ(q.connections_per_second, p.connections_per_second);
}

queue::Message one_recipient(const std::string& id) {
  queue::Message m;
  m.id = id;
  m.from = "agent@example.test";
  m.created_at_ms = 1'700'000'000'000;
  queue::Recipient r;
  r.address = "bob@dest.test";
  m.recipients.push_back(std::move(r));
  return m;
}

TEST(HeldStatus, DeferredWithTheReplyAndResumeTimeWithoutAnAttempt) {
  StatusStore store;
  store.add(one_recipient("m1"));
  const smtp::Reply why{421, "4.7.0", "Try again later"};
  const int64_t t = 1'700'000'001'000, until = 1'700'000'006'000;
  ASSERT_TRUE(store.apply("m1", 0, S::deferred, 0, why, t, "route:x", {}, until, /*hold=*/true));
  const queue::Recipient& r = store.find("m1")->recipients[0];
  EXPECT_EQ(r.state, S::deferred);
  EXPECT_EQ(r.attempts, 0u);
  EXPECT_TRUE(r.history.empty()) << "a hold is not an attempt";
  EXPECT_EQ(r.last_reply, why);
  EXPECT_EQ(store.count(S::deferred), 1u);
  EXPECT_EQ(store.count(S::queued), 0u);

  simdjson::dom::parser parser;
  const std::string json = message_status_json(*store.find("m1"));
  simdjson::dom::element rc = parser.parse(json)["recipients"].at(0);
  std::string_view next;
  ASSERT_EQ(rc["next_attempt_at"].get(next), simdjson::SUCCESS) << json;
  EXPECT_EQ(next, rfc3339_ms(until));

  // Delivered afterwards: one attempt, and no next_attempt_at any more.
  ASSERT_TRUE(store.apply("m1", 0, S::delivered, 1, smtp::Reply{250, "2.0.0", "Ok"}, until + 10));
  EXPECT_EQ(store.find("m1")->recipients[0].attempts, 1u);
  EXPECT_EQ(store.find("m1")->recipients[0].history.size(), 1u);
  const std::string done = message_status_json(*store.find("m1"));
  simdjson::dom::element rd = parser.parse(done)["recipients"].at(0);
  EXPECT_EQ(rd["next_attempt_at"].error(), simdjson::NO_SUCH_FIELD) << done;
}

}  // namespace
}  // namespace ringpost::engine
