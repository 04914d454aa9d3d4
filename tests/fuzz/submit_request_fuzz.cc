// libFuzzer target: arbitrary request bodies through parse_submit and parse_batch (engine/api),
// under the default limits and under small ones the fuzzer can reach. Checks: every refusal
// serialises to valid JSON with a 4xx status and a code; every accepted message keeps the
// limits and renders (render_message) into bytes that pass check_raw_message and have only
// CRLF line breaks. Any violation aborts. Clang only. Seeds: tests/data/fuzz/submit_request.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "engine/api/api_error.h"
#include "engine/api/message_renderer.h"
#include "engine/api/raw_message.h"
#include "engine/api/submit_request.h"

namespace {

using namespace ringpost::api;

constexpr int64_t kNowMs = int64_t{1795564800} * 1000;  // 2026-11-25T00:00:00Z: send_at is judged against it

[[noreturn]] void fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "invariant violated: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_json(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root) != simdjson::SUCCESS || !root.is_object()) fail("error body is not a JSON object", text);
}

void check_error(const ApiError& e) {
  if (e.http_status != 400 && e.http_status != 413 && e.http_status != 422) fail("error status", to_json(e));
  if (e.code.empty() || e.message.empty()) fail("error without code or message", to_json(e));
  check_json(to_json(e));
}

// Every CR and LF in `s` is part of a CRLF pair (RFC 5322 §2.3: no bare CR or LF).
bool only_crlf(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

void check_message(const SubmitMessage& m, const SubmitLimits& limits) {
  if (m.from.empty()) fail("accepted without from", "");
  const std::size_t recipients = m.envelope_recipients().size();
  if (recipients == 0 || recipients > limits.max_recipients) fail("recipient count outside 1..max", m.from);
  if (m.raw && (!m.text.empty() || !m.html.empty() || !m.attachments.empty())) fail("raw with generated content", m.from);
  const std::string rendered = render_message(m, "01M8A1QARMMN7GJ7ZYR0YJMVPT", "mta.example.test", kNowMs / 1000);
  if (!only_crlf(rendered)) fail("rendered message has a bare CR or LF", rendered);
  // What we send must be a message we would accept as raw: one From, single fields once, no
  // line over 998 octets, a header section ending in an empty line.
  if (auto ok = check_raw_message(rendered); !ok) fail(ok.error(), rendered);
}

void run(std::string_view json, const SubmitLimits& limits) {
  if (auto m = parse_submit(json, limits, kNowMs)) check_message(*m, limits);
  else check_error(m.error());
  if (auto batch = parse_batch(json, limits, kNowMs)) {
    if (batch->empty() || batch->size() > limits.max_batch) fail("batch size outside 1..max", "");
    for (const SubmitMessage& m : *batch) check_message(m, limits);
  } else {
    check_error(batch.error().error);
    for (const BatchError& item : batch.error().items) check_error(item.error);
    check_json(to_json(batch.error()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  run(json, SubmitLimits{});
  // Limits a small input can cross, and address literals allowed (the other branch).
  SubmitLimits small;
  small.max_recipients = 4;
  small.max_batch = 3;
  small.max_message_bytes = 256;
  small.allow_address_literals = true;
  run(json, small);
  return 0;
}
