// Typed calls to ringpost's HTTP API (docs: the contract in the integration-test brief /
// docs/api.md) over one keep-alive HttpClient, with responses parsed by simdjson. A
// response that does not match the documented shape is reported as an error string that
// quotes the body, so a failing test shows what the server actually said.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/http_client.h"

namespace ringpost::it {

struct OutgoingMessage {
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string text;
  // Opts in to a non-ASCII local part (docs/api.md); "= {}" keeps {from, to, subject, text} warning-free.
  bool smtputf8 = {};
};

std::string json_quote(std::string_view s);
std::string to_json(const OutgoingMessage& m);
std::string batch_json(std::span<const OutgoingMessage> msgs);

struct ReplyInfo {
  int code = 0;
  std::string enhanced;
  std::string text;
};

struct RecipientStatus {
  std::string address;
  std::string state;  // queued | deferred | delivered | bounced | expired
  int attempts = 0;
  std::optional<ReplyInfo> last_reply;  // absent or null before the first attempt
  std::optional<std::string> next_attempt_at;  // RFC 3339; only while deferred, when known
};

struct MessageStatus {
  std::string id;
  std::string from;
  std::vector<RecipientStatus> recipients;
};

struct Stats {
  int64_t queued = 0, deferred = 0, delivered = 0, bounced = 0, expired = 0;
  int64_t connections_opened = 0, transactions = 0;
  // MX routing counters; -1 when the server does not report them (they are optional here so
  // that a server without MX routing still parses).
  int64_t sites = -1, dns_lookups = -1;
  int64_t total() const { return queued + deferred + delivered + bounced + expired; }
};

class RingpostApi {
 public:
  explicit RingpostApi(uint16_t port) : http_(port) {}

  tl::expected<std::string, std::string> submit(const OutgoingMessage& m);
  tl::expected<std::vector<std::string>, std::string> submit_batch(std::span<const OutgoingMessage> msgs);
  tl::expected<Stats, std::string> stats();
  // 404 is an error like any other here; tests that expect 404 use http() directly.
  tl::expected<MessageStatus, std::string> status(std::string_view id);

  HttpClient& http() { return http_; }

 private:
  HttpClient http_;
};

// Parsers, public for tests that look at raw responses.
tl::expected<MessageStatus, std::string> parse_message_status(std::string_view body);
tl::expected<Stats, std::string> parse_stats(std::string_view body);
// `{"error":{"code":...}}` -> the code rendered as text (string or number), else nullopt.
std::optional<std::string> error_code_of(std::string_view body);
// Every integer found, at any depth, under a key containing "index" (index, indexes,
// indices, bad_indexes, ...): the API names no exact field for "which batch items were
// bad", so the test accepts any of these spellings rather than guess one.
std::vector<int64_t> index_values_in(std::string_view body);
std::string summarize(const MessageStatus& m);

}  // namespace ringpost::it
