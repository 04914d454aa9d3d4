// See submit_json.h: the raw text of "metadata" members, found with simdjson On-Demand.
// Invariant: runs only over bytes the DOM parser already accepted, so errors here mean "not
// found", never "invalid".
#include <simdjson.h>

#include <memory>

#include "engine/api/submit_json.h"

namespace ringpost::api::detail {
namespace {

namespace ondemand = simdjson::ondemand;

std::optional<std::string> minified(std::string_view raw) {
  const auto buf = std::make_unique<char[]>(raw.size() + simdjson::SIMDJSON_PADDING);
  std::size_t len = 0;
  if (simdjson::minify(raw.data(), raw.size(), buf.get(), len) != simdjson::SUCCESS) return std::nullopt;
  return std::string(buf.get(), len);
}

// Keys are compared unescaped: "\u006detadata" is the DOM's "metadata" too.
std::optional<std::string> find(ondemand::object obj) {
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    if (key != "metadata") continue;
    ondemand::object meta;
    std::string_view raw;
    if (field.value().get_object().get(meta) != simdjson::SUCCESS) return std::nullopt;
    if (meta.raw_json().get(raw) != simdjson::SUCCESS) return std::nullopt;
    return minified(raw);
  }
  return std::nullopt;
}

// Reused across requests on a thread, like submit_request.cc's DOM parser.
thread_local ondemand::parser metadata_parser;

}  // namespace

void release_metadata_parser() { metadata_parser = ondemand::parser{}; }

std::optional<std::string> MetadataTexts::get(std::size_t index) {
  if (!scanned_) scan();
  return index < texts_.size() ? texts_[index] : std::nullopt;
}

void MetadataTexts::scan() {
  scanned_ = true;
  ondemand::document doc;
  ondemand::object root;
  if (metadata_parser.iterate(json_).get(doc) != simdjson::SUCCESS || doc.get_object().get(root) != simdjson::SUCCESS) return;
  if (!batch_) {
    texts_.push_back(find(root));
    return;
  }
  for (auto field : root) {
    std::string_view key;
    ondemand::array messages;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS || key != "messages") continue;
    if (field.value().get_array().get(messages) != simdjson::SUCCESS) return;
    for (auto item : messages) {
      // A non-object item keeps its index with an empty slot; the DOM pass reports it.
      ondemand::json_type type;
      ondemand::object obj;
      if (item.type().get(type) != simdjson::SUCCESS || type != ondemand::json_type::object ||
          item.get_object().get(obj) != simdjson::SUCCESS) {
        texts_.emplace_back();
        continue;
      }
      texts_.push_back(find(obj));
    }
    return;
  }
}

}  // namespace ringpost::api::detail
