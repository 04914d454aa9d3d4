// See webhooks.h.
#include "engine/webhooks.h"

#include <openssl/hmac.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "engine/api/base64.h"
#include "engine/blocking_http_client.h"

namespace ringpost::engine {

std::string webhook_signature(std::string_view secret, std::string_view id, int64_t unix_seconds,
                              std::string_view body) {
  std::string key(secret);
  if (secret.starts_with("whsec_"))
    if (auto decoded = api::base64_decode(secret.substr(6))) key = std::move(*decoded);
  const std::string signed_text = fmt::format("{}.{}.{}", id, unix_seconds, body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(signed_text.data()),
       signed_text.size(), mac, &len);
  std::string out = "v1,";
  api::append_base64(out, std::string_view(reinterpret_cast<const char*>(mac), len));
  return out;
}

WebhookDispatcher::WebhookDispatcher(WebhookConfig hook, uint16_t self_port, std::string internal_token,
                                     std::string cursor_file)
    : hook_(std::move(hook)), self_port_(self_port), token_(std::move(internal_token)),
      cursor_file_(std::move(cursor_file)), thread_([this] { run(); }) {}

WebhookDispatcher::~WebhookDispatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool WebhookDispatcher::wanted(std::string_view type) const {
  if (hook_.events.empty()) return true;
  for (const std::string& e : hook_.events)
    if (e == type) return true;
  return false;
}

void WebhookDispatcher::run() {
  std::string cursor;
  if (std::ifstream in(cursor_file_); in) std::getline(in, cursor);
  // Short long-polls so a stop is noticed within a few seconds.
  BlockingHttpClient self("127.0.0.1", self_port_, 10);
  BlockingHttpClient receiver(hook_.host, hook_.port, 10);
  const std::string auth = fmt::format("Authorization: Bearer {}\r\n", token_);
  int backoff_s = 0;
  simdjson::dom::parser parser;
  while (!stop_) {
    auto page = self.request("GET", fmt::format("/v1/events?after={}&limit={}&wait=2&webhook={}", cursor, hook_.batch, hook_.name), {}, auth);
    if (!page || page->status != 200) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    simdjson::dom::element root;
    simdjson::dom::array events;
    std::string_view next;
    if (parser.parse(page->body).get(root) || root["events"].get(events) || root["next_cursor"].get(next)) continue;
    std::string body = "{\"events\":[";
    std::size_t n = 0;
    for (simdjson::dom::element e : events) {
      std::string_view type;
      if (e["type"].get(type) || !wanted(type)) continue;
      if (n++) body += ',';
      body += simdjson::minify(e);
    }
    body += "]}";
    const std::string next_cursor(next);
    // Deliver this page until the receiver takes it (2xx), with backoff: the cursor must not
    // move past events the receiver has not acknowledged.
    while (n > 0 && !stop_) {
      const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
      // The same id for every try of one batch, so a receiver can drop a repeat it already took.
      const std::string id = fmt::format("msg_{}_{}", hook_.name, next_cursor);
      auto r = receiver.request("POST", hook_.path, body,
                                fmt::format("webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n", id,
                                            t, webhook_signature(hook_.secret, id, t, body)));
      if (r && r->status >= 200 && r->status < 300) {
        backoff_s = 0;
        break;
      }
      backoff_s = std::min(60, backoff_s ? backoff_s * 2 : 1);
      spdlog::warn("webhook {}: {}; retrying in {} s", hook_.name,
                   r ? fmt::format("receiver answered {}", r->status) : r.error(), backoff_s);
      for (int i = 0; i < backoff_s * 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (stop_) break;
    if (next_cursor != cursor) {
      cursor = next_cursor;
      const std::string tmp = cursor_file_ + ".tmp";
      std::ofstream(tmp, std::ios::trunc) << cursor << '\n';
      std::error_code ec;
      std::filesystem::rename(tmp, cursor_file_, ec);
    }
  }
}

}  // namespace ringpost::engine
