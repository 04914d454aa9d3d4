#include <gtest/gtest.h>

#include <string>

#include "engine/api/submit_request.h"

namespace ringpost::api {
namespace {

constexpr std::string_view kGood = R"({"from":"a@example.com","to":"b@example.net","text":"hi"})";

std::string batch_of(const std::vector<std::string>& items) {
  std::string out = R"({"messages":[)";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]}";
}

BatchRejection rejection_of(std::string_view json) {
  auto r = parse_batch(json);
  EXPECT_FALSE(r.has_value()) << json;
  return r ? BatchRejection{} : r.error();
}

void expect_body_error(std::string_view json, std::string_view code, std::string_view field) {
  const BatchRejection r = rejection_of(json);
  EXPECT_EQ(r.error.code, code) << json << "\n  message: " << r.error.message;
  EXPECT_EQ(r.error.field, field) << json;
  EXPECT_EQ(r.error.http_status, 400);
  EXPECT_TRUE(r.items.empty());
}

TEST(ParseBatch, ValidBatchKeepsOrder) {
  const auto r = parse_batch(batch_of({std::string(kGood),
                                       R"({"from":"c@example.com","to":["d@example.net"],"html":"<b>x</b>"})"}));
  ASSERT_TRUE(r.has_value()) << to_json(r.error());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].from, "a@example.com");
  EXPECT_EQ((*r)[1].from, "c@example.com");
  EXPECT_EQ((*r)[1].html, "<b>x</b>");
}

TEST(ParseBatch, ReportsEveryBadItemAndOnlyThose) {
  const auto r = parse_batch(batch_of({
      std::string(kGood),
      R"({"to":"b@example.net","text":"hi"})",                                        // 1: no from
      std::string(kGood),
      R"({"from":"a@example.com","to":["b@example.net","c@example.net","bad"],"text":"x"})",  // 3: to[2]
      R"("not an object")",                                                            // 4
  }));
  ASSERT_FALSE(r.has_value());
  const BatchRejection& rej = r.error();
  EXPECT_EQ(rej.error.code, "invalid_batch");
  EXPECT_EQ(rej.error.message, "3 of 5 messages are invalid; nothing was accepted");
  ASSERT_EQ(rej.items.size(), 3u);
  EXPECT_EQ(rej.items[0].index, 1u);
  EXPECT_EQ(rej.items[0].error.code, "missing_field");
  EXPECT_EQ(rej.items[0].error.field, "messages[1].from");
  EXPECT_EQ(rej.items[1].index, 3u);
  EXPECT_EQ(rej.items[1].error.code, "invalid_address");
  EXPECT_EQ(rej.items[1].error.field, "messages[3].to[2]");
  EXPECT_EQ(rej.items[2].index, 4u);
  EXPECT_EQ(rej.items[2].error.code, "invalid_type");
  EXPECT_EQ(rej.items[2].error.field, "messages[4]");
}

TEST(ParseBatch, ItemPathsArePrefixed) {
  const BatchRejection r = rejection_of(batch_of({
      R"({"from":"a@example.com","to":"b@example.net"})",
      R"({"from":"a@example.com","to":"b@example.net","text":"x","headers":{"Date":"now"}})",
      R"({"from":"a@example.com","to":"b@example.net","text":"x","sbject":"s"})",
  }));
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].error.code, "missing_body");
  EXPECT_EQ(r.items[0].error.field, "messages[0]");
  EXPECT_EQ(r.items[1].error.code, "reserved_header");
  EXPECT_EQ(r.items[1].error.field, "messages[1].headers.Date");
  EXPECT_EQ(r.items[2].error.code, "unknown_field");
  EXPECT_EQ(r.items[2].error.field, "messages[2].sbject");
}

TEST(ParseBatch, RejectionJsonListsItems) {
  const BatchRejection r = rejection_of(batch_of({std::string(kGood), R"({"to":"b@example.net","text":"hi"})"}));
  EXPECT_EQ(to_json(r),
            R"({"error":{"code":"invalid_batch","message":"1 of 2 messages is invalid; nothing was accepted",)"
            R"("items":[{"index":1,"code":"missing_field","message":"from is required","field":"messages[1].from"}]}})");
}

TEST(ParseBatch, BodyLevelErrors) {
  expect_body_error("{", "invalid_json", "");
  expect_body_error("[]", "invalid_body", "");
  expect_body_error("{}", "missing_field", "messages");
  expect_body_error(R"({"messages":{}})", "invalid_type", "messages");
  expect_body_error(R"({"messages":null})", "invalid_type", "messages");
  expect_body_error(R"({"messages":[]})", "empty_batch", "messages");
  expect_body_error(R"({"messages":[],"dry_run":true})", "unknown_field", "dry_run");
  expect_body_error(R"({"messages":[],"messages":[]})", "duplicate_field", "messages");
}

TEST(ParseBatch, AtMostOneThousandMessages) {
  EXPECT_TRUE(parse_batch(batch_of(std::vector<std::string>(1000, std::string(kGood)))).has_value());
  expect_body_error(batch_of(std::vector<std::string>(1001, std::string(kGood))), "batch_too_large", "messages");
}

}  // namespace
}  // namespace ringpost::api
