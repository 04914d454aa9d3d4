#include "engine/api/api_error.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

TEST(ApiErrorJson, WithField) {
  const ApiError e{400, "invalid_address", "to[2]: address has no @", "to[2]"};
  EXPECT_EQ(to_json(e), R"({"error":{"code":"invalid_address","message":"to[2]: address has no @","field":"to[2]"}})");
}

TEST(ApiErrorJson, FieldOmittedWhenEmpty) {
  const ApiError e{400, "invalid_json", "body is not valid JSON", ""};
  EXPECT_EQ(to_json(e), R"({"error":{"code":"invalid_json","message":"body is not valid JSON"}})");
}

TEST(ApiErrorJson, EscapesQuotesBackslashAndControls) {
  const ApiError e{400, "x", "a \"q\" \\ \n\x01", "headers[\"A B\"]"};
  EXPECT_EQ(to_json(e),
            R"({"error":{"code":"x","message":"a \"q\" \\ \n\u0001","field":"headers[\"A B\"]"}})");
}

TEST(ApiErrorJson, BatchErrorsListEveryItem) {
  const std::vector<BatchError> items = {
      {1, {400, "missing_field", "from is required", "messages[1].from"}},
      {3, {400, "invalid_address", "bad", "messages[3].to[0]"}},
  };
  EXPECT_EQ(batch_errors_json(items, 5),
            R"({"error":{"code":"invalid_batch","message":"2 of 5 messages are invalid; nothing was accepted",)"
            R"("items":[{"index":1,"code":"missing_field","message":"from is required","field":"messages[1].from"},)"
            R"({"index":3,"code":"invalid_address","message":"bad","field":"messages[3].to[0]"}]}})");
}

TEST(ApiErrorJson, BatchSummaryIsSingularForOneItem) {
  const BatchRejection r = invalid_batch({{0, {400, "c", "m", "messages[0]"}}}, 7);
  EXPECT_EQ(r.error.code, "invalid_batch");
  EXPECT_EQ(r.error.http_status, 400);
  EXPECT_EQ(r.error.message, "1 of 7 messages is invalid; nothing was accepted");
}

TEST(ApiErrorJson, BatchRejectionWithoutItemsIsAPlainError) {
  const BatchRejection r{{400, "empty_batch", "messages must contain at least one message", "messages"}, {}};
  EXPECT_EQ(to_json(r), to_json(r.error));
}

}  // namespace
}  // namespace ringpost::api
