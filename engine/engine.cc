// See engine.h.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "engine/dkim_policy.h"
#include "engine/front.h"
#include "engine/shard.h"

namespace ringpost::engine {

Engine::Engine(Config cfg) : cfg_(std::move(cfg)) {}

Engine::~Engine() { stop(); }

tl::expected<void, std::string> Engine::start() {
  uint32_t n = cfg_.shard_count();
  std::vector<Shard*> raw;
  for (uint32_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(i, cfg_, events_));
    raw.push_back(shards_.back().get());
  }
  front_ = std::make_unique<Front>(cfg_, raw, events_);
  if (auto r = front_->listen(); !r) return tl::make_unexpected(r.error());
  auto pending = front_->recover();
  if (!pending) return tl::make_unexpected(pending.error());
  if (*pending) spdlog::info("recovered {} undelivered recipients from {}", *pending, cfg_.spool_dir);
  for (auto& s : shards_) s->set_peers(raw);
  for (auto& s : shards_) s->start();
  spdlog::info("{}", describe(*make_dkim_policy(cfg_)));
  front_thread_ = std::thread([this] { front_->run(stop_); });
  spdlog::info("{} shards; HTTP on 127.0.0.1:{}", n, front_->port());
  return {};
}

void Engine::reload_dkim(const Config& fresh) {
  auto policy = make_dkim_policy(fresh);
  spdlog::info("reloaded {}", describe(*policy));
  if (front_) front_->replace_dkim(std::move(policy));
}

uint16_t Engine::http_port() const { return front_ ? front_->port() : 0; }

void Engine::stop() {
  if (stopping_.exchange(true)) return;
  // Shards first: they drain (finish transactions, QUIT idle connections) while the front is
  // still there to record and spool their outcomes; then the front flushes and stops.
  for (auto& s : shards_) s->request_stop();
  for (auto& s : shards_) s->join();
  stop_.store(true);
  if (front_thread_.joinable()) front_thread_.join();
}

}  // namespace ringpost::engine
