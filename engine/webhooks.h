// Signed webhooks (docs/api.md "Webhooks"): one thread per [[webhooks]] entry follows the event
// feed through ringpost's own HTTP API (a long poll on /v1/events with an internal admin
// token), POSTs each batch of matching events to the receiver with an HMAC-SHA256 signature,
// and advances its cursor only on a 2xx, backing off on failure; the cursor is persisted next to
// the spool, so delivery to the receiver is at least once across restarts. Blocking I/O on its
// own thread: it never touches a ring or the front's state.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/config.h"

namespace ringpost::engine {

// Standard Webhooks (standardwebhooks.com): "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>",
// where the key is the base64 after "whsec_" in the secret, or the secret's bytes without that
// prefix.
std::string webhook_signature(std::string_view secret, std::string_view id, int64_t unix_seconds, std::string_view body);

// Where a webhook's cursor is kept: the dispatcher writes it, the front reads it at start-up
// to know what the webhook still owes before the dispatcher's first request.
inline std::string webhook_cursor_path(const std::string& spool_dir, const std::string& name) {
  return spool_dir + "/webhook-" + name + ".cursor";
}

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

  WebhookConfig hook_;
  uint16_t self_port_;
  std::string token_;
  std::string cursor_file_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringpost::engine
