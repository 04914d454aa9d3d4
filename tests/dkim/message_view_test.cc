// Header splitting and the From domain that DKIM's d= must align with.
#include "dkim/message_view.h"

#include <gtest/gtest.h>

namespace ringpost::dkim {
namespace {

std::optional<std::string> from_of(std::string_view header_section) {
  const std::string message = std::string(header_section) + "\r\n\r\nbody\r\n";  // the view points into it
  auto view = split_message(message);
  EXPECT_TRUE(view) << view.error();
  return view ? from_domain(*view) : std::nullopt;
}

TEST(MessageView, SplitsFieldsWithContinuationsAndBody) {
  const std::string m = "From: a@x.test\r\nSubject: one\r\n two\r\n\tthree\r\nTo: b@y.test\r\n\r\nbody\r\n\r\n";
  auto v = split_message(m);
  ASSERT_TRUE(v) << v.error();
  ASSERT_EQ(v->fields.size(), 3u);
  EXPECT_EQ(v->fields[0], "From: a@x.test");
  EXPECT_EQ(v->fields[1], "Subject: one\r\n two\r\n\tthree");
  EXPECT_EQ(v->fields[2], "To: b@y.test");
  EXPECT_EQ(v->body, "body\r\n\r\n");
}

TEST(MessageView, EmptyBodyAndNoBlankLine) {
  auto empty = split_message("From: a@x.test\r\n\r\n");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->fields.size(), 1u);
  EXPECT_EQ(empty->body, "");
  auto header_only = split_message("From: a@x.test\r\nTo: b@y.test\r\n");
  ASSERT_TRUE(header_only);
  ASSERT_EQ(header_only->fields.size(), 2u);
  EXPECT_EQ(header_only->fields[1], "To: b@y.test");
  auto no_crlf = split_message("From: a@x.test");
  ASSERT_TRUE(no_crlf);
  EXPECT_EQ(no_crlf->fields.at(0), "From: a@x.test");
}

TEST(MessageView, BodyBytesAreNotInspected) {
  // Bare LF and CR in the body are the body's business (hashed as they are).
  auto v = split_message("From: a@x.test\r\n\r\nline\nbare\rcr\r\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->body, "line\nbare\rcr\r\n");
}

TEST(MessageView, RejectsMalformedHeaderSections) {
  EXPECT_FALSE(split_message("From: a@x.test\nTo: b@y.test\r\n\r\n"));       // bare LF
  EXPECT_FALSE(split_message("From: a@x.test\rTo: b@y.test\r\n\r\n"));       // bare CR
  EXPECT_FALSE(split_message(" continued: x\r\nFrom: a@x.test\r\n\r\n"));    // starts with a continuation
  EXPECT_FALSE(split_message("From: a@x.test\r\nno colon here\r\n\r\nb"));   // not a field
}

TEST(MessageView, FieldNameToleratesObsoleteSpaceBeforeColon) {
  EXPECT_EQ(field_name("Subject : x"), "Subject");
  EXPECT_EQ(field_name("From:x"), "From");
}

TEST(FromDomain, PlainAngleAndDisplayName) {
  EXPECT_EQ(from_of("From: alice@Example.TEST"), "example.test");
  EXPECT_EQ(from_of("From: <alice@example.test>"), "example.test");
  EXPECT_EQ(from_of("From: Alice Example <alice@example.test>"), "example.test");
  EXPECT_EQ(from_of("from: alice@example.test"), "example.test");  // field names are case-insensitive
  EXPECT_EQ(from_of("FROM : alice@example.test."), "example.test");
}

TEST(FromDomain, QuotedStringsCommentsAndFolding) {
  EXPECT_EQ(from_of("From: \"Doe, John <boss@evil.test>\" <john@example.test>"), "example.test");
  EXPECT_EQ(from_of("From: \"a@b\"@example.test"), "example.test");
  EXPECT_EQ(from_of("From: (comment with @evil.test) alice@example.test"), "example.test");
  EXPECT_EQ(from_of("From: alice@example.test (Alice (nested) Example)"), "example.test");
  EXPECT_EQ(from_of("From: \"Alice\"\r\n <alice@\r\n example.test>"), "example.test");
  EXPECT_EQ(from_of("From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>"), "example.test");
}

TEST(FromDomain, ListsGroupsAndTheFirstFromField) {
  EXPECT_EQ(from_of("From: a@first.test, b@second.test"), "first.test");
  EXPECT_EQ(from_of("From: Team: a@team.test, b@other.test;"), "team.test");
  EXPECT_EQ(from_of("Subject: x\r\nFrom: a@one.test\r\nFrom: b@two.test"), "one.test");
  EXPECT_EQ(from_of("From: <@relay.test:alice@example.test>"), "example.test");  // obs-route
}

TEST(FromDomain, NothingToSignFor) {
  EXPECT_EQ(from_of("Subject: no from"), std::nullopt);
  EXPECT_EQ(from_of("From: undisclosed"), std::nullopt);
  EXPECT_EQ(from_of("From: alice@[192.0.2.1]"), std::nullopt);
  EXPECT_EQ(from_of("From: Team:;"), std::nullopt);
}

}  // namespace
}  // namespace ringpost::dkim
