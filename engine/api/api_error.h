// Errors the HTTP API returns and their JSON bodies. Plain data built by the validators and
// serialised by the HTTP front. The JSON shape is a public contract (docs/api.md): `code` is
// stable and machine-readable, `message` is for humans and may change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringpost::api {

struct ApiError {
  int http_status = 400;
  std::string code;     // "invalid_address", "unknown_field", ...
  std::string message;  // one sentence for a human (or an agent) to act on
  std::string field;    // JSON path such as "messages[3].to[0]"; empty when no one field is at fault
  // Limit errors name the limit and its value, so a client can size its next request without
  // parsing `message`: "limit":{"name":"max_message_bytes","value":26214400}. Empty: none.
  std::string limit = {};
  uint64_t limit_value = 0;
};

struct BatchError {
  std::size_t index = 0;  // position in the "messages" array
  ApiError error;         // error.field is the full path, "messages[3].from"
};

// Why a whole batch was refused; nothing in a refused batch is accepted. Either the body
// itself is wrong (not JSON, no "messages" array, too many items): `error` says why and
// `items` is empty. Or some items are wrong: `error` is the "invalid_batch" summary and
// `items` lists every bad item in index order.
struct BatchRejection {
  ApiError error;
  std::vector<BatchError> items;
};

// {"error":{"code":"...","message":"...","field":"...","limit":{...}}}; "field" and "limit"
// omitted when empty.
std::string to_json(const ApiError& e);

// The "invalid_batch" rejection over `items`, out of `message_count` messages in the batch.
BatchRejection invalid_batch(std::vector<BatchError> items, std::size_t message_count);

// {"error":{"code":"invalid_batch","message":"N of M messages are invalid; nothing was accepted",
//  "items":[{"index":3,"code":"...","message":"...","field":"messages[3].from"}, ...]}}
std::string batch_errors_json(const std::vector<BatchError>& items, std::size_t message_count);

// Either form: the item list when there is one, otherwise the plain error object.
std::string to_json(const BatchRejection& r);

}  // namespace ringpost::api
