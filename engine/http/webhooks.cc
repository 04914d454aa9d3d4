// See webhooks.h.
#include "engine/http/webhooks.h"

#include <openssl/hmac.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "engine/api/base64.h"
#include "engine/api/json_escape.h"
#include "engine/ops/blocking_http_client.h"
#include "engine/http/status_store.h"

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

std::string feed_gap_notice(std::string_view expired_cursor, std::string_view oldest_cursor, int64_t now_ms) {
  std::string out = "{\"events\":[{\"type\":\"cursor_expired\",\"at\":\"" + rfc3339_ms(now_ms) + "\",\"cursor\":";
  api::append_json_string(out, expired_cursor);
  out += ",\"oldest_cursor\":";
  api::append_json_string(out, oldest_cursor);
  out += ",\"resumed_after\":";
  api::append_json_string(out, oldest_cursor);
  out += ",\"message\":";
  api::append_json_string(out, "the event feed dropped the events after this webhook's cursor before they were sent "
                               "([limits] event_feed_max); they are lost to this receiver. Delivery resumed with the "
                               "events after oldest_cursor.");
  out += "}]}";
  return out;
}

bool WebhookDispatcher::deliver(BlockingHttpClient& receiver, const std::string& id, const std::string& body) {
  while (!stop_) {
    const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
    auto r = receiver.request("POST", hook_.path, body,
                              fmt::format("webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n", id, t,
                                          webhook_signature(hook_.secret, id, t, body)));
    if (r && r->status >= 200 && r->status < 300) {
      backoff_s_ = 0;
      return true;
    }
    backoff_s_ = std::min(60, backoff_s_ ? backoff_s_ * 2 : 1);
    spdlog::warn("webhook {}: {}; retrying in {} s", hook_.name,
                 r ? fmt::format("receiver answered {}", r->status) : r.error(), backoff_s_);
    for (int i = 0; i < backoff_s_ * 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void WebhookDispatcher::save_cursor(const std::string& cursor) {
  const std::string tmp = cursor_file_ + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << cursor << '\n';
  std::error_code ec;
  std::filesystem::rename(tmp, cursor_file_, ec);
}

void WebhookDispatcher::run() {
  std::string cursor;
  if (std::ifstream in(cursor_file_); in) std::getline(in, cursor);
  // Short long-polls so a stop is noticed within a few seconds.
  BlockingHttpClient self("127.0.0.1", self_port_, 10);
  BlockingHttpClient receiver(hook_.host, hook_.port, 10);
  const std::string auth = fmt::format("Authorization: Bearer {}\r\n", token_);
  simdjson::dom::parser parser;
  while (!stop_) {
    auto page = self.request("GET", fmt::format("/v1/events?after={}&limit={}&wait=2&webhook={}", cursor, hook_.batch, hook_.name), {}, auth);
    if (page && page->status == 410) {
      // The feed dropped events this receiver never got ([limits] event_feed_max): nothing can
      // bring them back, but the gap must not pass in silence. Tell the operator and the
      // receiver (whatever `events` it asked for), then go on from the oldest event kept.
      std::string_view oldest;
      simdjson::dom::element root;
      if (parser.parse(page->body).get(root) || root["error"]["oldest_cursor"].get(oldest)) oldest = "";
      const std::string resume(oldest);
      spdlog::error("webhook {}: cursor {} fell out of the event feed ([limits] event_feed_max): the events after it "
                    "up to {} were dropped before they were sent and are lost to this receiver; resuming from {}",
                    hook_.name, cursor, resume.empty() ? "the oldest kept" : resume, resume.empty() ? "the start" : resume);
      if (!deliver(receiver, fmt::format("msg_{}_gap_{}", hook_.name, cursor),
                   feed_gap_notice(cursor, resume, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch()).count())))
        break;
      cursor = resume;
      save_cursor(cursor);
      continue;
    }
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
    // move past events the receiver has not acknowledged. The same id for every try of one
    // batch, so a receiver can drop a repeat it already took.
    if (n > 0 && !deliver(receiver, fmt::format("msg_{}_{}", hook_.name, next_cursor), body)) break;
    if (next_cursor != cursor) {
      cursor = next_cursor;
      save_cursor(cursor);
    }
  }
}

}  // namespace ringpost::engine
