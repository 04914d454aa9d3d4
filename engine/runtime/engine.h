// Wires one ringpost node together: N shard threads, the HTTP front thread, and the mailboxes
// between them. Start-up order matters: the spool is recovered and its unfinished recipients
// queued before any thread runs, so nothing accepted before a crash can be overtaken or lost.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/delivery/live_policy.h"
#include "engine/runtime/mailbox.h"
#include "engine/delivery/shard_control.h"

namespace ringpost::engine {

class Shard;
class Front;
class WebhookDispatcher;

class Engine {
 public:
  explicit Engine(Config cfg);
  ~Engine();

  tl::expected<void, std::string> start();
  uint16_t http_port() const;
  // Graceful drain (docs/operating.md): submits get 503 at once, the shards finish or cut their
  // transactions within drain_timeout, the spool is synced. Returns when every thread is done.
  void stop();
  // SIGHUP: sign with the DKIM keys and require_dkim of `fresh` (already loaded and checked)
  // from the next request on, and apply its delivery limits, rules and routes (shards take
  // them on their next tick or job). Listen address, threads, spool and TLS need a restart.
  void reload(const Config& fresh);
  // SIGUSR1: the delivery log is reopened at its path (after logrotate moved it).
  void reopen_logs();
  const Config& config() const { return cfg_; }

 private:
  Config cfg_;
  Mailbox<DeliveryEvent> events_;
  Mailbox<ShardAnswer> answers_;
  std::unique_ptr<PolicyBook> policies_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Front> front_;
  std::vector<std::unique_ptr<WebhookDispatcher>> webhooks_;
  std::thread front_thread_;
  std::atomic<bool> stop_{false};      // the front's loop
  std::atomic<bool> stopping_{false};  // stop() ran
};

}  // namespace ringpost::engine
