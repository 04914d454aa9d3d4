// The views of `ringpost ctl` from canned answers shaped like engine/http/front_admin.cc,
// front_api.cc, status_store.cc and front_events.cc write them.
#include "engine/ops/ctl/views.h"

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <simdjson.h>

namespace ringpost::ctl {
namespace {

std::string domain(std::string_view name, int queued, std::string_view suspended = "null",
                   std::string_view throttled = "null") {
  return fmt::format(
      R"({{"domain":"{}","site":"static:127.0.0.1:2525","queued":{},"in_flight":1,"connections":2,)"
      R"("msgs_per_second_measured":9.75,"limits":{{"max_connections":20,"max_msgs_per_connection":100,)"
      R"("msgs_per_second":null,"connections_per_second":null,"max_recipients_per_message":null,)"
      R"("initial_connections":5,"idle_timeout":"30000ms"}},"suspended_until":{},"throttled_until":{},)"
      R"("last_error":null}})",
      name, queued, suspended, throttled);
}

// The value of the "key  value" line for `key` in render_fields output, or "(absent)".
std::string field(const std::string& text, const std::string& key) {
  std::size_t at = 0;
  while ((at = text.find(key + "  ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const auto value = text.find_first_not_of(' ', at + key.size());
      return text.substr(value, text.find('\n', value) - value);
    }
    at += key.size();
  }
  return "(absent)";
}

const std::string kStats =
    R"({"messages":12,"recipients":{"queued":3,"deferred":1,"delivered":7,"bounced":1,"expired":0},)"
    R"("connections_opened":4,"transactions":8,"sites":2,"dns_lookups":0,"shards":2,"spool":{"segments":1}})";

TEST(StatusView, SortsByQueuedMostFirstAndPrintsTotals) {
  const std::string domains = "{\"domains\":[" + domain("a.test", 1) + "," + domain("b.test", 40) + "," +
                              domain("c.test", 1) + "]}";
  auto out = status_text(domains, kStats);
  ASSERT_TRUE(out) << out.error();
  const auto b = out->find("b.test"), a = out->find("a.test"), c = out->find("c.test");
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(b, a);
  EXPECT_LT(a, c);  // equal queues: by name
  EXPECT_NE(out->find("DOMAIN"), std::string::npos);
  EXPECT_NE(out->find("9.8"), std::string::npos);  // measured rate, one decimal
  EXPECT_NE(out->find("unlimited"), std::string::npos);
  EXPECT_NE(out->find("queued 3, deferred 1, delivered 7, bounced 1, expired 0"), std::string::npos) << *out;
  EXPECT_NE(out->find("connections opened 4; transactions 8"), std::string::npos) << *out;
}

TEST(StatusView, JsonIsSortedAndKeepsTheServersObjects) {
  const std::string domains = "{\"domains\":[" + domain("a.test", 1) + "," + domain("b.test", 40) + "]}";
  auto out = status_json(domains, kStats);
  ASSERT_TRUE(out) << out.error();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(*out).get(root), simdjson::SUCCESS) << *out;
  std::string_view first;
  ASSERT_EQ(root["domains"].at(0)["domain"].get(first), simdjson::SUCCESS);
  EXPECT_EQ(first, "b.test");
  int64_t delivered = 0;
  ASSERT_EQ(root["stats"]["recipients"]["delivered"].get(delivered), simdjson::SUCCESS);
  EXPECT_EQ(delivered, 7);
}

TEST(StatusView, RefusesAnAnswerWithoutDomains) {
  auto out = status_text(R"({"error":{"code":"x","message":"y"}})", kStats);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("domains"), std::string::npos);
  EXPECT_FALSE(status_text("not json", kStats));
}

TEST(DomainView, SaysSuspendedThrottledOrActive) {
  auto active = domain_text(domain("a.test", 0));
  ASSERT_TRUE(active) << active.error();
  EXPECT_EQ(field(*active, "state"), "active") << *active;
  EXPECT_EQ(field(*active, "limits.max_connections"), "20") << *active;
  EXPECT_EQ(field(*active, "limits.msgs_per_second"), "unlimited") << *active;
  EXPECT_EQ(field(*active, "measured rate"), "9.8 msgs/s") << *active;

  auto suspended = domain_text(domain("a.test", 0, R"("2026-11-26T08:00:00.000Z")"));
  ASSERT_TRUE(suspended);
  EXPECT_EQ(field(*suspended, "state"), "suspended until 2026-11-26T08:00:00.000Z") << *suspended;

  std::string throttled = domain("a.test", 0, "null", R"("2026-11-26T08:00:00.000Z")");
  throttled.insert(throttled.size() - 1, R"(,"throttled_msgs_per_second":1)");
  auto t = domain_text(throttled);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(field(*t, "state"), "throttled to 1/s until 2026-11-26T08:00:00.000Z") << *t;
}

TEST(DomainView, ShowsTheLastError) {
  std::string d = domain("a.test", 0);
  const std::string err = R"("last_error":{"code":421,"enhanced":"4.7.0","text":"Try again later","at":"2026-11-25T22:10:00.000Z"})";
  d.replace(d.find(R"("last_error":null)"), std::string_view(R"("last_error":null)").size(), err);
  auto out = domain_text(d);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(field(*out, "last error"), "421 4.7.0 Try again later (at 2026-11-25T22:10:00.000Z)") << *out;
}

TEST(MessageView, OneRowPerRecipientWithReplyAndClass) {
  const std::string body =
      R"({"id":"01ABC","from":"a@x.test","created_at":"2026-11-25T22:00:00.000Z","tags":{"k":"v"},"recipients":[)"
      R"({"address":"b@sink.test","state":"delivered","attempts":1,"last_reply":{"code":250,"enhanced":"2.0.0","text":"Ok"},"updated_at":"2026-11-25T22:00:01.000Z","site":"static:127.0.0.1:1"},)"
      R"({"address":"c@down.test","state":"deferred","attempts":2,"last_reply":{"code":421,"enhanced":"4.4.1","text":"connection refused"},"updated_at":"2026-11-25T22:00:02.000Z","classification":"soft"},)"
      R"({"address":"d@new.test","state":"queued","attempts":0,"last_reply":null,"updated_at":"2026-11-25T22:00:00.000Z"}]})";
  auto out = message_text(body);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(field(*out, "id"), "01ABC") << *out;
  EXPECT_EQ(field(*out, "tags"), R"({"k":"v"})") << *out;
  EXPECT_NE(out->find("RECIPIENT"), std::string::npos);
  EXPECT_NE(out->find("250 2.0.0 Ok"), std::string::npos);
  EXPECT_NE(out->find("421 4.4.1 connection refused [soft]"), std::string::npos) << *out;
  const auto queued_line = out->substr(out->find("d@new.test"));
  EXPECT_NE(queued_line.find("queued"), std::string::npos);
  EXPECT_EQ(queued_line.back(), '\n');
  EXPECT_NE(queued_line.find(" -\n"), std::string::npos) << queued_line;  // no reply yet
}

TEST(EventsView, ParsesAPageAndFormatsFixedColumns) {
  const std::string body =
      R"({"events":[{"cursor":"17.0","type":"delivered","at":"2026-11-25T22:40:00.123Z","message_id":"01M8",)"
      R"("recipient":"bob@example.org","attempts":1,"reply":{"code":250,"enhanced":"2.0.0","text":"Ok: queued"}},)"
      R"({"cursor":"17.1","type":"accepted","at":"2026-11-25T22:40:00.124Z","message_id":"01M9",)"
      R"("recipient":"ann@example.org","attempts":0,"reply":null}],"next_cursor":"17.1"})";
  auto page = parse_events(body);
  ASSERT_TRUE(page) << page.error();
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->next_cursor, "17.1");
  EXPECT_EQ(page->events[0].reply, "250 2.0.0 Ok: queued");
  EXPECT_EQ(page->events[1].reply, "");
  EXPECT_EQ(event_line(page->events[0]),
            "2026-11-25T22:40:00.123Z  delivered  01M8                        bob@example.org  attempt 1  250 2.0.0 Ok: queued");
  simdjson::dom::parser parser;
  std::string_view type;
  ASSERT_EQ(parser.parse(page->events[0].json)["type"].get(type), simdjson::SUCCESS);
  EXPECT_EQ(type, "delivered");
  EXPECT_FALSE(parse_events(R"({"events":[]})"));
}

TEST(ErrorText, QuotesTheServersMessage) {
  EXPECT_EQ(error_text(401, R"({"error":{"code":"unauthorized","message":"missing or wrong admin token"}})"),
            "missing or wrong admin token (401 unauthorized)");
  EXPECT_EQ(error_text(502, "<html>bad gateway</html>"), "HTTP 502: <html>bad gateway</html>");
}

}  // namespace
}  // namespace ringpost::ctl
