#include "engine/api/submit_request.h"

#include <gtest/gtest.h>

#include <string>

namespace ringpost::api {
namespace {

// Parses `json`, expects failure, and returns the error for the caller to inspect.
ApiError error_of(std::string_view json) {
  const auto r = parse_submit(json);
  EXPECT_FALSE(r.has_value()) << json;
  return r ? ApiError{} : r.error();
}

void expect_error(std::string_view json, std::string_view code, std::string_view field, int status = 400) {
  const ApiError e = error_of(json);
  EXPECT_EQ(e.code, code) << json << "\n  message: " << e.message;
  EXPECT_EQ(e.field, field) << json;
  EXPECT_EQ(e.http_status, status) << json;
  EXPECT_FALSE(e.message.empty());
}

std::string address_list(std::size_t n, std::string_view domain) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) out += (i ? ",\"r" : "\"r") + std::to_string(i) + "@" + std::string(domain) + "\"";
  return out + "]";
}

TEST(ParseSubmit, MinimalMessage) {
  const auto r = parse_submit(R"({"from":"a@example.com","to":"b@example.net","text":"hi"})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->from, "a@example.com");
  EXPECT_EQ(r->to, std::vector<std::string>{"b@example.net"});
  EXPECT_EQ(r->text, "hi");
  EXPECT_FALSE(r->raw.has_value());
}

TEST(ParseSubmit, FullMessageKeepsEveryFieldAndHeaderOrder) {
  const auto r = parse_submit(R"({
    "from": "news@example.com",
    "to": ["a@example.net", "b@example.net"], "cc": ["c@example.org"], "bcc": ["d@example.org"],
    "subject": "Caf\u00e9 news", "text": "plain\nbody", "html": "<p>hi</p>",
    "headers": {"Reply-To": "help@example.com", "List-Unsubscribe": "<https://example.com/u/1>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Campaign": "q3"}
  })");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->to, (std::vector<std::string>{"a@example.net", "b@example.net"}));
  EXPECT_EQ(r->cc, std::vector<std::string>{"c@example.org"});
  EXPECT_EQ(r->bcc, std::vector<std::string>{"d@example.org"});
  EXPECT_EQ(r->subject, "Caf\xc3\xa9 news");
  EXPECT_EQ(r->text, "plain\nbody");
  EXPECT_EQ(r->html, "<p>hi</p>");
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Reply-To", "help@example.com"},
      {"List-Unsubscribe", "<https://example.com/u/1>"},
      {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
      {"X-Campaign", "q3"}};
  EXPECT_EQ(r->headers, headers);
}

TEST(ParseSubmit, NullOptionalFieldsCountAsAbsent) {
  const auto r = parse_submit(
      R"({"from":"a@example.com","to":"b@example.net","cc":null,"bcc":null,"subject":null,"html":null,"headers":null,"raw":null,"text":"x"})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->cc.empty());
  EXPECT_TRUE(r->html.empty());
}

TEST(ParseSubmit, RawMessage) {
  const auto r = parse_submit(R"({"from":"a@example.com","bcc":["b@example.net"],"raw":"From: a@example.com\nSubject: x\n\nbody\n"})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_TRUE(r->raw.has_value());
  EXPECT_EQ(*r->raw, "From: a@example.com\nSubject: x\n\nbody\n");
}

TEST(ParseSubmit, RawSeparatorMayUseAnyLineEnding) {
  for (const char* raw : {R"(From: a@example.com\r\n\r\nbody)", R"(From: a@example.com\n\nbody)",
                          R"(From: a@example.com\r\rbody)", R"(From: a@example.com\r\n\nbody)", R"(From: a@example.com\n\n)"}) {
    const std::string json = std::string(R"({"from":"a@example.com","to":"b@example.net","raw":")") + raw + "\"}";
    EXPECT_TRUE(parse_submit(json).has_value()) << json;
  }
}

TEST(ParseSubmit, InvalidJson) {
  for (const char* body : {"", "{", R"({"from":})", R"({"from":"a@example.com",})", "{\"a\":\"\xff\"}", "nul"}) {
    expect_error(body, "invalid_json", "");
  }
}

TEST(ParseSubmit, BodyMustBeAnObject) {
  for (const char* body : {"[]", "\"text\"", "42", "null"}) expect_error(body, "invalid_body", "");
}

TEST(ParseSubmit, FromIsRequired) { expect_error(R"({"to":"b@example.net","text":"x"})", "missing_field", "from"); }

TEST(ParseSubmit, WrongTypesNameTheField) {
  expect_error(R"({"from":42,"to":"b@example.net","text":"x"})", "invalid_type", "from");
  expect_error(R"({"from":null,"to":"b@example.net","text":"x"})", "invalid_type", "from");
  expect_error(R"({"from":"a@example.com","to":42,"text":"x"})", "invalid_type", "to");
  expect_error(R"({"from":"a@example.com","to":["b@example.net",5],"text":"x"})", "invalid_type", "to[1]");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","cc":true,"text":"x"})", "invalid_type", "cc");
  // An object is an address with a display name, so an empty one lacks its address.
  expect_error(R"({"from":"a@example.com","to":"b@example.net","cc":{},"text":"x"})", "missing_field", "cc.address");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","bcc":[["c@example.net"]],"text":"x"})",
               "invalid_type", "bcc[0]");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":5})", "invalid_type", "text");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","html":true})", "invalid_type", "html");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","subject":["s"]})", "invalid_type",
               "subject");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","raw":1})", "invalid_type", "raw");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":[]})", "invalid_type",
               "headers");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":1}})", "invalid_type",
               "headers.X-A");
}

TEST(ParseSubmit, InvalidAddressesReportTheirExactPath) {
  expect_error(R"({"from":"not an address","to":"b@example.net","text":"x"})", "invalid_address", "from");
  expect_error(R"({"from":"a@example.com","to":"b@","text":"x"})", "invalid_address", "to");
  expect_error(R"({"from":"a@example.com","to":["b@example.net","c@example.net","bad"],"text":"x"})",
               "invalid_address", "to[2]");
  expect_error(R"({"from":"a@example.com","to":["b@example.net"],"cc":["c@@example.net"],"text":"x"})",
               "invalid_address", "cc[0]");
  expect_error(R"({"from":"a@example.com","to":["b@example.net"],"bcc":["c@example.net","d@example.net\r\nRCPT TO:<e@x>"],"text":"x"})",
               "invalid_address", "bcc[1]");
}

TEST(ParseSubmit, InvalidAddressMessageSaysWhy) {
  const ApiError e = error_of(R"({"from":"a@example.com","to":["b@192.0.2.1"],"text":"x"})");
  EXPECT_NE(e.message.find("[192.0.2.1]"), std::string::npos) << e.message;
}

TEST(ParseSubmit, AtLeastOneRecipient) {
  expect_error(R"({"from":"a@example.com","text":"x"})", "no_recipients", "to");
  expect_error(R"({"from":"a@example.com","to":[],"cc":[],"text":"x"})", "no_recipients", "to");
}

TEST(ParseSubmit, RecipientsOnlyInBccAreEnough) {
  EXPECT_TRUE(parse_submit(R"({"from":"a@example.com","bcc":["b@example.net"],"text":"x"})").has_value());
}

TEST(ParseSubmit, AtMostOneThousandRecipients) {
  const std::string exactly = R"({"from":"a@example.com","to":)" + address_list(1000, "example.net") + R"(,"text":"x"})";
  EXPECT_TRUE(parse_submit(exactly).has_value());
  const std::string over = R"({"from":"a@example.com","to":)" + address_list(1001, "example.net") + R"(,"text":"x"})";
  expect_error(over, "too_many_recipients", "to");
  // The field is the list in which the count passes the limit.
  const std::string spread = R"({"from":"a@example.com","to":)" + address_list(600, "example.net") +
                             R"(,"bcc":)" + address_list(401, "example.org") + R"(,"text":"x"})";
  expect_error(spread, "too_many_recipients", "bcc");
}

TEST(ParseSubmit, TextOrHtmlOrRawRequired) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net"})", "missing_body", "");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","subject":"s","text":""})", "missing_body", "");
}

TEST(ParseSubmit, RawConflictsWithGeneratedContent) {
  const std::string raw = R"("raw":"From: a@example.com\n\nbody")";
  expect_error(R"({"from":"a@example.com","to":"b@example.net",)" + raw + R"(,"subject":"s"})", "conflicting_fields",
               "subject");
  expect_error(R"({"from":"a@example.com","to":"b@example.net",)" + raw + R"(,"text":"t"})", "conflicting_fields",
               "text");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","html":"h",)" + raw + "}", "conflicting_fields", "html");
  expect_error(R"({"from":"a@example.com","to":"b@example.net",)" + raw + R"(,"headers":{"X-A":"b"}})",
               "conflicting_fields", "headers");
}

TEST(ParseSubmit, RawNeedsHeaderAndSeparator) {
  for (const char* raw : {"", R"(From: a@example.com\nSubject: x)", R"(From: a@example.com\n)",
                          R"(\n\nbody only)", R"(not a header\n\nbody)", R"(Bad Name: x\n\nbody)"}) {
    const std::string json = std::string(R"({"from":"a@example.com","to":"b@example.net","raw":")") + raw + "\"}";
    expect_error(json, "invalid_raw", "raw", 422);
  }
}

TEST(ParseSubmit, HeaderNamesMustBeFieldNames) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"Bad Name":"v"}})",
               "invalid_header", R"(headers["Bad Name"])");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X:Y":"v"}})",
               "invalid_header", R"(headers["X:Y"])");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"":"v"}})", "invalid_header",
               R"(headers[""])");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-\u00e9":"v"}})",
               "invalid_header", "headers[\"X-\xc3\xa9\"]");
}

TEST(ParseSubmit, HeaderValuesCannotInjectLines) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":"a\r\nBcc: evil@example.org"}})",
               "invalid_header", "headers.X-A");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":"a\nb"}})",
               "invalid_header", "headers.X-A");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":"a\u0000b"}})",
               "invalid_header", "headers.X-A");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":"caf\u00e9"}})",
               "invalid_header", "headers.X-A");
  const std::string long_value(995, 'v');  // "X-A: " + 995 = 1000 > 998
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"X-A":")" + long_value + "\"}}",
               "invalid_header", "headers.X-A");
}

TEST(ParseSubmit, ReservedHeadersAreRefusedInAnyCase) {
  for (const char* name : {"From", "to", "CC", "Bcc", "Subject", "Date", "message-id", "Message-ID", "MIME-Version",
                           "content-type", "Content-Transfer-Encoding", "Return-Path"}) {
    const std::string json = std::string(R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{")") +
                             name + R"(":"v"}})";
    expect_error(json, "reserved_header", std::string("headers.") + name);
  }
}

TEST(ParseSubmit, SubjectCannotInjectLines) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","subject":"a\r\nBcc: e@example.org"})",
               "invalid_header", "subject");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","subject":"a\u0007"})", "invalid_header",
               "subject");
}

TEST(ParseSubmit, UnknownFieldsFailLoudly) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","bc":["c@example.net"],"text":"x"})", "unknown_field",
               "bc");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","a.b":1})", "unknown_field",
               R"(["a.b"])");
  // Reported before anything else is judged: a typo can explain the other errors.
  expect_error(R"({"frm":"a@example.com","to":"b@example.net","text":"x"})", "unknown_field", "frm");
}

TEST(ParseSubmit, RepeatedFieldIsRefused) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","to":"c@example.net","text":"x"})", "duplicate_field",
               "to");
}

TEST(ParseSubmit, UnknownFieldsAreStillCheckedWhenValuesAreNull) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","attachment":null})", "unknown_field",
               "attachment");
}

TEST(EnvelopeRecipients, DeduplicatedCaseInsensitivelyInOrder) {
  SubmitMessage m;
  m.to = {"Ann@Example.com", "bob@example.net"};
  m.cc = {"ann@example.COM", "carl@example.org"};
  m.bcc = {"BOB@EXAMPLE.NET", "dee@example.org", "Carl@Example.org"};
  EXPECT_EQ(m.envelope_recipients(),
            (std::vector<std::string>{"Ann@Example.com", "bob@example.net", "carl@example.org", "dee@example.org"}));
}

TEST(EnvelopeRecipients, FromParsedRequest) {
  const auto r = parse_submit(
      R"({"from":"a@example.com","to":["x@example.net","y@example.net"],"bcc":["X@EXAMPLE.NET","z@example.net"],"text":"t"})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->envelope_recipients(), (std::vector<std::string>{"x@example.net", "y@example.net", "z@example.net"}));
}

}  // namespace
}  // namespace ringpost::api
