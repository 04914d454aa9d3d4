// GET /v1/events against the real server: accepted/delivered/deferred events with the SMTP
// reply, cursors that page without repeats, a long poll answered by a new event, bad cursors
// refused, and the feed rebuilt from the spool after kill -9.
#include <atomic>
#include <map>
#include <set>
#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

struct Event {
  std::string cursor, type, message_id, recipient;
  int64_t code = 0;
};

struct Page {
  std::vector<Event> events;
  std::string next_cursor;
};

tl::expected<Page, std::string> get_events(HttpClient& http, const std::string& query) {
  auto r = http.get("/v1/events" + query);
  if (!r) return tl::make_unexpected(r.error());
  if (r->status != 200) return tl::make_unexpected(fmt::format("{}: {}", r->status, r->body));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r->body).get(root)) return tl::make_unexpected("not JSON: " + r->body);
  Page p;
  std::string_view next;
  if (root["next_cursor"].get(next)) return tl::make_unexpected("no next_cursor: " + r->body);
  p.next_cursor = std::string(next);
  simdjson::dom::array events;
  if (root["events"].get(events)) return tl::make_unexpected("no events: " + r->body);
  for (simdjson::dom::element e : events) {
    Event ev;
    std::string_view s;
    if (!e["cursor"].get(s)) ev.cursor = std::string(s);
    if (!e["type"].get(s)) ev.type = std::string(s);
    if (!e["message_id"].get(s)) ev.message_id = std::string(s);
    if (!e["recipient"].get(s)) ev.recipient = std::string(s);
    simdjson::dom::element reply;
    if (!e["reply"].get(reply) && !reply.is_null() && reply["code"].get(ev.code)) ev.code = -1;
    p.events.push_back(std::move(ev));
  }
  return p;
}

bool has(const std::vector<Event>& events, const std::string& id, const std::string& type) {
  for (const Event& e : events)
    if (e.message_id == id && e.type == type) return true;
  return false;
}

class Events : public SinkServerTest {};

TEST_F(Events, FeedPagesLongPollsAndSurvivesARestart) {
  ServerConfig cfg;
  cfg.retry = {"1h"};
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg, /*with_down_domain=*/true));
  RingpostApi api(server->port());
  auto good = api.submit({"a@example.test", {"ok@sink.test"}, "s", "t"});
  auto later = api.submit({"a@example.test", {"wait@down.test"}, "s", "t"});
  ASSERT_TRUE(good && later);

  HttpClient http(server->port());
  std::vector<Event> all;
  std::string cursor;
  ASSERT_TRUE(wait_until(15s, 50ms, [&] {
    auto page = get_events(http, "?after=" + cursor + "&limit=1");  // one at a time: paging
    if (!page) return false;
    for (Event& e : page->events) all.push_back(e);
    cursor = page->next_cursor;
    return has(all, *good, "delivered") && has(all, *later, "deferred");
  })) << all.size() << " events so far";
  EXPECT_TRUE(has(all, *good, "accepted"));
  EXPECT_TRUE(has(all, *later, "accepted"));
  for (const Event& e : all) {
    if (e.type == "delivered") {
      EXPECT_EQ(e.code, 250);
    }
    if (e.type == "deferred") {
      EXPECT_GE(e.code, 400);
    }
  }
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_NE(all[i].cursor, all[i - 1].cursor) << "a page repeated an event";

  // Nothing new after the last cursor: an empty page keeps the cursor.
  auto empty = get_events(http, "?after=" + cursor);
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_TRUE(empty->events.empty());
  EXPECT_EQ(empty->next_cursor, cursor);

  // A long poll is answered by the next event.
  tl::expected<Page, std::string> polled = tl::make_unexpected("not done");
  std::atomic<bool> done{false};
  std::thread poller([&] {
    HttpClient poll_http(server->port(), 30s);
    polled = get_events(poll_http, "?after=" + cursor + "&wait=20");
    done = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(done) << "the long poll returned before anything happened";
  auto third = api.submit({"a@example.test", {"third@sink.test"}, "s", "t"});
  ASSERT_TRUE(third);
  poller.join();
  ASSERT_TRUE(polled) << polled.error();
  ASSERT_FALSE(polled->events.empty()) << "the long poll timed out instead of returning the new event";
  EXPECT_EQ(polled->events.front().message_id, *third);

  auto bad = http.get("/v1/events?after=yesterday");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(error_code_of(bad->body), "invalid_parameter");

  ASSERT_TRUE(wait_until(10s, 50ms, [&] { return sink->message_count() >= 2; }));
  server->kill9();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  HttpClient after(server->port());
  auto rebuilt = get_events(after, "?limit=1000");
  ASSERT_TRUE(rebuilt) << rebuilt.error();
  EXPECT_TRUE(has(rebuilt->events, *good, "delivered")) << "the feed lost a delivery across the restart";
  EXPECT_TRUE(has(rebuilt->events, *later, "accepted"));
}

// Tags and metadata come back as given: in the message's status and, tags, in its events; and
// still after kill -9 and a restart (they are in the spool's ACCEPT record).
TEST_F(Events, TagsAndMetadataAreEchoedInStatusAndEventsAndSurviveARestart) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  HttpClient http(server->port());
  auto r = http.post_json("/v1/messages", R"({"from":"a@example.test","to":["t@sink.test"],"subject":"s","text":"t",
    "tags":{"campaign":"spring \"sale\"","tier":"gold"},"metadata":{"order":12345,"items":[1,2.50],"note":null}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id = r->body.substr(r->body.find("\"id\":\"") + 6, 26);
  const std::string tags = R"("tags":{"campaign":"spring \"sale\"","tier":"gold"})";
  const std::string metadata = R"("metadata":{"order":12345,"items":[1,2.50],"note":null})";
  auto check = [&](HttpClient& c, const char* when) {
    auto st = c.get("/v1/messages/" + id);
    ASSERT_TRUE(st);
    EXPECT_NE(st->body.find(tags), std::string::npos) << when << ": " << st->body;
    EXPECT_NE(st->body.find(metadata), std::string::npos) << when << ": " << st->body;
    auto ev = c.get("/v1/events?limit=1000");
    ASSERT_TRUE(ev);
    EXPECT_NE(ev->body.find(tags), std::string::npos) << when << ": " << ev->body;
  };
  ASSERT_TRUE(wait_until(10s, 50ms, [&] { return sink->message_count() >= 1; }));
  check(http, "before the restart");
  server->kill9();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  HttpClient after(server->port());
  check(after, "after kill -9 and restart");
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// send_at: nothing reaches the sink before the time, then it does, with no attempt counted for
// the wait; and a restart in between keeps the schedule.
TEST_F(Events, SendAtHoldsTheMessageUntilItsTimeAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  // Whole seconds (send_at is written to the second): the message is due 7 to 8 s from now,
  // long after the restart below even on a loaded machine.
  const auto at = std::chrono::system_clock::now() + 8s;
  const std::time_t secs = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  HttpClient http(server->port());
  auto r = http.post_json("/v1/messages", fmt::format(R"({{"from":"a@example.test","to":["later@sink.test"],
    "subject":"s","text":"t","send_at":"{}"}})", when));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  auto now = http.post_json("/v1/messages", R"({"from":"a@example.test","to":["now@sink.test"],"subject":"s","text":"t"})");
  ASSERT_TRUE(now && now->status == 202);
  ASSERT_TRUE(wait_until(10s, 20ms, [&] { return sink->message_count() >= 1; }));
  server->kill9();
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  EXPECT_EQ(sink->message_count(), 1) << "the scheduled message left before its time";
  ASSERT_TRUE(wait_until(15s, 50ms, [&] { return sink->message_count() >= 2; })) << "never sent";
  const auto arrived = std::chrono::system_clock::now();
  EXPECT_GE(arrived + 1s, at) << "sent more than a second before send_at (the second is send_at's resolution)";
  RingpostApi api(server->port());
  const std::string id = r->body.substr(r->body.find("\"id\":\"") + 6, 26);
  ASSERT_TRUE(wait_until(5s, 50ms, [&] {
    auto st = api.status(id);
    return st && st->recipients[0].state == "delivered";
  }));
  EXPECT_EQ(api.status(id)->recipients[0].attempts, 1) << "waiting for send_at counted as an attempt";
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// The feed reaches `delivered` for every recipient of a 1,000-message batch, each exactly once,
// followed by paging with a long poll as an agent would.
TEST_F(Events, EveryRecipientOfAThousandMessageBatchIsReportedDelivered) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  RingpostApi api(server->port());
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({"a@example.test", {fmt::format("r{}@sink.test", i)}, "s", "t"});
  auto ids = api.submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  std::set<std::string> want(ids->begin(), ids->end());
  std::map<std::string, int> delivered;
  HttpClient http(server->port(), 30s);
  std::string cursor;
  ASSERT_TRUE(wait_until(60s, 1ms, [&] {
    auto page = get_events(http, "?after=" + cursor + "&limit=1000&wait=5");
    if (!page) return false;
    for (const Event& e : page->events)
      if (e.type == "delivered") ++delivered[e.message_id];
    cursor = page->next_cursor;
    return delivered.size() >= want.size();
  })) << delivered.size() << " of 1000 delivered events";
  for (const std::string& id : want) EXPECT_EQ(delivered[id], 1) << id;
  EXPECT_EQ(sink->message_count(), 1000);
}

}  // namespace
}  // namespace ringpost::it
