// The delivery log's line formatter (engine/ops/delivery_log_line.h): every call is one line of
// valid JSON with the documented field names; fields that do not apply are left out.
#include "engine/ops/delivery_log_line.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "engine/delivery/live_policy.h"
#include "engine/http/status_store.h"

namespace ringpost::engine {
namespace {

// Parses `line` (which must be exactly one '\n'-terminated line) into `doc`.
::testing::AssertionResult one_json_line(const std::string& line, simdjson::dom::parser& parser,
                                         simdjson::dom::object& doc) {
  if (line.empty() || line.back() != '\n') return ::testing::AssertionFailure() << "no final newline: " << line;
  if (line.find('\n') != line.size() - 1) return ::testing::AssertionFailure() << "more than one line: " << line;
  if (auto err = parser.parse(line).get(doc)) return ::testing::AssertionFailure() << err << ": " << line;
  return ::testing::AssertionSuccess();
}

TEST(DeliveryLogLine, DeliveredWithTlsHasEveryField) {
  AttemptPeer peer{"mx.example.test", "192.0.2.7", 25, "TLSv1.3", "TLS_AES_256_GCM_SHA384"};
  smtp::Reply reply{250, "2.0.0", "Ok: queued as 4F2A"};
  DeliveryLogEntry e;
  e.type = "delivered";
  e.at_ms = 1764115995123;  // 2025-11-26T00:13:15.123Z
  e.message_id = "m1";
  e.sender = "a@example.test";
  e.recipient = "b@dest.test";
  e.key = "agent-1";
  e.tags_json = R"({"campaign":"nov"})";
  e.site = "mx.example.test";
  e.peer = &peer;
  e.reply = &reply;
  e.attempt = 2;
  e.queued_ms = 61000;
  e.attempt_ms = 35;
  std::string out;
  append_delivery_line(out, e);
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["type"]), "delivered");
  EXPECT_EQ(std::string_view(doc["time"]), "2025-11-26T00:13:15.123Z");
  EXPECT_EQ(std::string_view(doc["message_id"]), "m1");
  EXPECT_EQ(std::string_view(doc["sender"]), "a@example.test");
  EXPECT_EQ(std::string_view(doc["recipient"]), "b@dest.test");
  EXPECT_EQ(std::string_view(doc["key"]), "agent-1");
  EXPECT_EQ(std::string_view(doc["site"]), "mx.example.test");
  EXPECT_EQ(std::string_view(doc["mx_host"]), "mx.example.test");
  EXPECT_EQ(std::string_view(doc["mx_ip"]), "192.0.2.7");
  EXPECT_EQ(int64_t(doc["mx_port"]), 25);
  EXPECT_EQ(std::string_view(doc["tls_version"]), "TLSv1.3");
  EXPECT_EQ(std::string_view(doc["tls_cipher"]), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(int64_t(doc["reply"]["code"]), 250);
  EXPECT_EQ(std::string_view(doc["reply"]["enhanced"]), "2.0.0");
  EXPECT_EQ(std::string_view(doc["reply"]["text"]), "Ok: queued as 4F2A");
  EXPECT_EQ(int64_t(doc["attempt"]), 2);
  EXPECT_EQ(int64_t(doc["queued_ms"]), 61000);
  EXPECT_EQ(int64_t(doc["attempt_ms"]), 35);
  EXPECT_EQ(std::string_view(doc["tags"]["campaign"]), "nov");
  EXPECT_TRUE(doc["tls_fallback"].error()) << "only plain-text fallback connections say so: " << out;
}

TEST(DeliveryLogLine, PlainTextAfterAFailedHandshakeSaysSo) {
  AttemptPeer peer{"mx.example.test", "192.0.2.7", 25, "", "", true};
  smtp::Reply reply{250, "2.0.0", "Ok"};
  DeliveryLogEntry e;
  e.type = "delivered";
  e.message_id = "m9";
  e.sender = "a@example.test";
  e.recipient = "b@dest.test";
  e.peer = &peer;
  e.reply = &reply;
  e.attempt = 1;
  std::string out;
  append_delivery_line(out, e);
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_TRUE(bool(doc["tls_fallback"])) << out;
  EXPECT_TRUE(doc["tls_version"].error()) << out;
}

TEST(DeliveryLogLine, AcceptedLeavesOutWhatDoesNotApply) {
  DeliveryLogEntry e;
  e.type = "accepted";
  e.at_ms = 0;
  e.message_id = "m2";
  e.sender = "a@example.test";
  e.recipient = "c@dest.test";
  std::string out;
  append_delivery_line(out, e);
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["time"]), "1970-01-01T00:00:00.000Z");
  for (const char* absent : {"key", "site", "mx_host", "mx_ip", "mx_port", "tls_version", "tls_cipher", "tls_fallback", "reply",
                             "attempt", "queued_ms", "attempt_ms", "tags"})
    EXPECT_TRUE(doc[absent].error()) << absent << " should be absent in " << out;
}

TEST(DeliveryLogLine, PlainTextDeferralWithoutConnection) {
  smtp::Reply reply{451, "4.4.1", "connect to 127.0.0.1:9 failed: Connection refused"};
  DeliveryLogEntry e;
  e.type = "deferred";
  e.at_ms = 1000;
  e.message_id = "m3";
  e.sender = "a@example.test";
  e.recipient = "d@down.test";
  e.site = "route:127.0.0.1:9";
  e.reply = &reply;
  e.attempt = 1;
  e.queued_ms = 12;
  std::string out;
  append_delivery_line(out, e);
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(int64_t(doc["reply"]["code"]), 451);
  EXPECT_TRUE(doc["mx_ip"].error());
  EXPECT_TRUE(doc["tls_version"].error());
  EXPECT_TRUE(doc["attempt_ms"].error());
}

TEST(DeliveryLogLine, HostileBytesStayOneLineOfJson) {
  // A server's reply text is whatever it sent: line breaks (multi-line replies are joined with
  // '\n'), quotes, control bytes and ill-formed UTF-8 must not split or break the line.
  smtp::Reply reply{550, "5.7.1", "line one\nline \"two\"\r\x01 \xff\xfe end"};
  AttemptPeer peer{"mx\n.test", "::1", 2525, "", ""};
  DeliveryLogEntry e;
  e.type = "bounced";
  e.at_ms = 5;
  e.message_id = "m\"4";
  e.sender = "a\\b@example.test";
  e.recipient = "x\ny@dest.test";
  e.peer = &peer;
  e.reply = &reply;
  e.attempt = 1;
  std::string out;
  append_delivery_line(out, e);
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["recipient"]), "x\ny@dest.test");
  EXPECT_EQ(std::string_view(doc["message_id"]), "m\"4");
  EXPECT_EQ(std::string_view(doc["mx_ip"]), "::1");
  EXPECT_NE(std::string_view(doc["reply"]["text"]).find("line \"two\""), std::string_view::npos);
}

TEST(DeliveryLogLine, TimeMatchesTheStatusApisFormatting) {
  // The line formatter has its own lock-free date code; it must agree with rfc3339_ms (gmtime).
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  for (int64_t ms : {int64_t{0}, int64_t{999}, int64_t{951782399999} /* 2000-02-28T23:59:59.999 */,
                     int64_t{951868800000} /* 2000-03-01 */, int64_t{1709164800001} /* 2024-02-29 */,
                     int64_t{1767225599999} /* 2025-12-31T23:59:59.999 */, int64_t{4102444800000} /* 2100-01-01 */,
                     int64_t{253402300799999} /* 9999-12-31T23:59:59.999 */}) {
    DeliveryLogEntry e;
    e.type = "accepted";
    e.at_ms = ms;
    e.message_id = "m";
    e.recipient = "r@x.test";
    std::string out;
    append_delivery_line(out, e);
    ASSERT_TRUE(one_json_line(out, parser, doc));
    EXPECT_EQ(std::string_view(doc["time"]), rfc3339_ms(ms)) << ms;
  }
}

TEST(DeliveryLogLine, AdminActions) {
  simdjson::dom::parser parser;
  simdjson::dom::object doc;

  DomainOverride suspended;
  suspended.suspended_until_ms = 1764115995123;
  std::string out;
  append_admin_line(out, AdminLogEntry{42, "suspend", "dest.test", "ops", &suspended});
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["type"]), "admin");
  EXPECT_EQ(std::string_view(doc["action"]), "suspend");
  EXPECT_EQ(std::string_view(doc["domain"]), "dest.test");
  EXPECT_EQ(std::string_view(doc["key"]), "ops");
  EXPECT_EQ(std::string_view(doc["until"]), "2025-11-26T00:13:15.123Z");

  DomainOverride throttled;
  throttled.msgs_per_second = 2.5;
  throttled.max_connections = 3;
  out.clear();
  append_admin_line(out, AdminLogEntry{42, "throttle", "dest.test", "", &throttled});
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(double(doc["msgs_per_second"]), 2.5);
  EXPECT_EQ(int64_t(doc["max_connections"]), 3);
  EXPECT_TRUE(doc["key"].error()) << "the admin_token has no key name";
  EXPECT_TRUE(doc["until"].error());

  DomainOverride bounced;
  bounced.bounce_created_before_ms = 42;
  bounced.bounce_reason = "list \"cleanup\"";
  out.clear();
  append_admin_line(out, AdminLogEntry{42, "bounce-all", "dest.test", "ops", &bounced});
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["reason"]), "list \"cleanup\"");

  out.clear();
  append_admin_line(out, AdminLogEntry{42, "retry-now", "dest.test", "ops", nullptr});
  ASSERT_TRUE(one_json_line(out, parser, doc));
  EXPECT_EQ(std::string_view(doc["action"]), "retry-now");
}

}  // namespace
}  // namespace ringpost::engine
