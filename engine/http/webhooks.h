// Signed webhooks (docs/api.md "Webhooks"): one thread per [[webhooks]] entry follows the event
// feed through ringpost's own HTTP API (a long poll on /v1/events with an internal admin
// token), POSTs each batch of matching events to the receiver with an HMAC-SHA256 signature,
// and advances its cursor only on a 2xx, backing off on failure; the cursor is persisted next to
// the spool, so delivery to the receiver is at least once across restarts. A cursor the feed
// no longer holds (410 cursor_expired, [limits] event_feed_max) is logged as an error and
// reported to the receiver as a signed "cursor_expired" event, then the dispatcher resumes from
// the oldest cursor the feed still has. Blocking I/O on its own thread: it never touches a ring
// or the front's state.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/config/config.h"

namespace ringpost::engine {

class BlockingHttpClient;

// Standard Webhooks (standardwebhooks.com): "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>",
// where the key is the base64 after "whsec_" in the secret, or the secret's bytes without that
// prefix.
std::string webhook_signature(std::string_view secret, std::string_view id, int64_t unix_seconds, std::string_view body);

// Where a webhook's cursor is kept: the dispatcher writes it, the front reads it at start-up
// to know what the webhook still owes before the dispatcher's first request.
inline std::string webhook_cursor_path(const std::string& spool_dir, const std::string& name) {
  return spool_dir + "/webhook-" + name + ".cursor";
}

// The body POSTed when the dispatcher's cursor fell out of the feed: one event of type
// "cursor_expired" naming the cursor it had, the oldest the feed still holds, and that it
// resumed from there (the events in between are lost to this receiver):
// {"events":[{"type":"cursor_expired","at":"...","cursor":"...","oldest_cursor":"...",
//  "resumed_after":"...","message":"..."}]}
std::string feed_gap_notice(std::string_view expired_cursor, std::string_view oldest_cursor, int64_t now_ms);

class WebhookDispatcher {
 public:
  // `self_port`: ringpost's HTTP port; `internal_token`: the Bearer token the front accepts as
  // an admin for this dispatcher only.
  WebhookDispatcher(WebhookConfig hook, uint16_t self_port, std::string internal_token, std::string cursor_file);
  ~WebhookDispatcher();  // stops and joins
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

 private:
  void run();
  bool wanted(std::string_view type) const;
  // POSTs `body` signed until the receiver takes it (2xx) or the dispatcher stops; false then.
  bool deliver(BlockingHttpClient& receiver, const std::string& id, const std::string& body);
  void save_cursor(const std::string& cursor);

  WebhookConfig hook_;
  uint16_t self_port_;
  std::string token_;
  std::string cursor_file_;
  int backoff_s_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringpost::engine
