// See engine.h.
#include "engine/runtime/engine.h"

#include <spdlog/spdlog.h>

#include "engine/signing/dkim_policy.h"
#include <openssl/rand.h>

#include <fmt/format.h>

#include "engine/security/api_keys.h"
#include "engine/http/front.h"
#include "engine/http/webhooks.h"
#include "engine/delivery/override_store.h"
#include "engine/delivery/shard.h"

namespace ringpost::engine {

Engine::Engine(Config cfg) : cfg_(std::move(cfg)) {}

Engine::~Engine() { stop(); }

tl::expected<void, std::string> Engine::start() {
  // Operators' throttles and suspensions from before the restart.
  auto overrides = load_overrides(cfg_.spool_dir + "/overrides.json");
  if (!overrides) return tl::make_unexpected(overrides.error());
  auto live = std::make_shared<LivePolicy>();
  live->config = std::make_shared<const Config>(cfg_);
  live->overrides = std::move(*overrides);
  if (!live->overrides.empty()) spdlog::info("{} domain override(s) in force", live->overrides.size());
  policies_ = std::make_unique<PolicyBook>(std::move(live));
  uint32_t n = cfg_.shard_count();
  std::vector<Shard*> raw;
  for (uint32_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(i, cfg_, events_, *policies_, answers_));
    raw.push_back(shards_.back().get());
  }
  front_ = std::make_unique<Front>(cfg_, raw, events_, *policies_, answers_);
  // The webhook dispatchers read the event feed through the API as an internal admin.
  std::string internal_token;
  if (!cfg_.webhooks.empty()) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return tl::make_unexpected("no randomness for the webhooks' internal token");
    internal_token = sha256_hex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
    front_->set_internal_token(internal_token);
  }
  if (auto r = front_->listen(); !r) return tl::make_unexpected(r.error());
  if (auto r = front_->open_delivery_log(); !r) return tl::make_unexpected(r.error());
  auto pending = front_->recover();
  if (!pending) return tl::make_unexpected(pending.error());
  if (*pending) spdlog::info("recovered {} undelivered recipients from {}", *pending, cfg_.spool_dir);
  for (auto& s : shards_) s->set_peers(raw);
  for (auto& s : shards_) s->start();
  // A thread that cannot set itself up says why; start() returns it and main exits with it
  // (stop() joins the threads that did start).
  for (auto& s : shards_)
    if (auto r = s->wait_started(); !r) return tl::make_unexpected(r.error());
  spdlog::info("{}", describe(*make_dkim_policy(cfg_)));
  front_thread_ = std::thread([this] { front_->run(stop_); });
  if (auto r = front_->wait_started(); !r) return tl::make_unexpected(r.error());
  for (const WebhookConfig& h : cfg_.webhooks)
    webhooks_.push_back(std::make_unique<WebhookDispatcher>(h, front_->port(), internal_token,
                                                            webhook_cursor_path(cfg_.spool_dir, h.name)));
  spdlog::info("{} shards; HTTP on 127.0.0.1:{}", n, front_->port());
  return {};
}

void Engine::reload(const Config& fresh) {
  auto policy = make_dkim_policy(fresh);
  spdlog::info("reloaded {}", describe(*policy));
  if (front_) front_->replace_dkim(std::move(policy));
  if (front_) front_->replace_keys(std::make_shared<const KeyRing>(fresh.keys));
  if (policies_) {
    auto next = std::make_shared<LivePolicy>(*policies_->current());
    next->config = std::make_shared<const Config>(fresh);
    policies_->publish(std::move(next));
    spdlog::info("reloaded delivery limits for {} domain(s) and {} rule(s)", fresh.domains.size(), fresh.rules.size());
  }
}

void Engine::reopen_logs() {
  if (front_) front_->reopen_logs();
}

uint16_t Engine::http_port() const { return front_ ? front_->port() : 0; }

void Engine::stop() {
  if (stopping_.exchange(true)) return;
  // From here submits get 503 draining: nothing is accepted that the shards would not start.
  if (front_) front_->begin_drain();
  webhooks_.clear();  // they talk to the front: stop them first
  // Shards first: they drain (finish transactions, QUIT idle connections, for at most
  // [server] drain_timeout) while the front is still there to record and spool their
  // outcomes; then the front syncs the spool and stops.
  for (auto& s : shards_) s->request_stop();
  for (auto& s : shards_) s->join();
  stop_.store(true);
  if (front_thread_.joinable()) front_thread_.join();
}

}  // namespace ringpost::engine
