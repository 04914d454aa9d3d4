// JSON bodies for API errors. Written by hand rather than through a JSON library: the shape
// is fixed and small, and every string goes through append_json_string, so output is always valid JSON.
#include "engine/api/api_error.h"

#include <fmt/format.h>

#include "engine/api/json_escape.h"

namespace ringpost::api {
namespace {

void append_error_members(std::string& out, const ApiError& e) {
  out += "\"code\":";
  append_json_string(out, e.code);
  out += ",\"message\":";
  append_json_string(out, e.message);
  if (!e.field.empty()) {
    out += ",\"field\":";
    append_json_string(out, e.field);
  }
  if (!e.limit.empty()) {
    out += ",\"limit\":{\"name\":";
    append_json_string(out, e.limit);
    out += fmt::format(",\"value\":{}}}", e.limit_value);
  }
}

}  // namespace

std::string to_json(const ApiError& e) {
  std::string out = "{\"error\":{";
  append_error_members(out, e);
  out += "}}";
  return out;
}

BatchRejection invalid_batch(std::vector<BatchError> items, std::size_t message_count) {
  ApiError summary{400, "invalid_batch",
                   fmt::format("{} of {} messages {} invalid; nothing was accepted", items.size(),
                               message_count, items.size() == 1 ? "is" : "are"),
                   ""};
  return BatchRejection{std::move(summary), std::move(items)};
}

std::string batch_errors_json(const std::vector<BatchError>& items, std::size_t message_count) {
  return to_json(invalid_batch(items, message_count));
}

std::string to_json(const BatchRejection& r) {
  if (r.items.empty()) return to_json(r.error);
  std::string out = "{\"error\":{";
  append_error_members(out, r.error);
  out += ",\"items\":[";
  for (std::size_t i = 0; i < r.items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += fmt::format("{{\"index\":{},", r.items[i].index);
    append_error_members(out, r.items[i].error);
    out.push_back('}');
  }
  out += "]}}";
  return out;
}

}  // namespace ringpost::api
