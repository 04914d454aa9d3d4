// What `ringpost bench` reads back from the server under test: GET /v1/stats counters and a
// message's delivery time from GET /v1/messages/{id}. Blocking; used by the bench's main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/ops/blocking_http_client.h"

namespace ringpost::load {

struct StatsSnapshot {
  bool ok = false;
  uint64_t delivered = 0, bounced = 0, expired = 0;
  uint64_t connections_opened = 0, transactions = 0;
  uint64_t done() const { return delivered + bounced + expired; }
};

StatsSnapshot read_stats(engine::BlockingHttpClient& http);

// The `updated_at` of the message's first recipient, in ms since the epoch, when its state is
// delivered; nullopt otherwise (not delivered, unknown id, transport error).
std::optional<int64_t> delivered_at_ms(engine::BlockingHttpClient& http, const std::string& id);

// "2026-11-25T19:08:07.324Z" (what the status API writes) → ms since the epoch; -1 if malformed.
int64_t parse_rfc3339_ms(std::string_view text);

}  // namespace ringpost::load
