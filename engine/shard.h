// One delivery shard: a thread with its own io_uring ring that owns every destination (and so
// every SMTP connection, queue and retry timer) whose domain hashes to it. Jobs arrive through
// its inbox; recipient state changes leave through the front's event mailbox. Nothing here is
// shared with another thread except the two mailboxes and the relaxed counters.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/config.h"
#include "engine/delivery_job.h"
#include "engine/destination.h"
#include "engine/mailbox.h"
#include "engine/ring.h"

namespace ringpost::engine {

class MxResolver;

// Written only by the owning shard, read by the front for /v1/stats: relaxed atomics suffice.
struct ShardCounters {
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> queued{0};  // deliveries waiting in destination queues or for a retry
};

class Shard {
 public:
  Shard(uint32_t index, const Config& cfg, Mailbox<DeliveryEvent>& events);
  ~Shard();

  void start();
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  void join();

  Mailbox<DeliveryJob>& inbox() { return inbox_; }
  ShardCounters& counters() { return counters_; }

  // For destinations and connections, on the shard thread only.
  Ring& ring() { return *ring_; }
  int64_t now() const { return now_; }
  const std::string& hostname() const { return cfg_.hostname; }
  void report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
              uint32_t attempts, const smtp::Reply& reply);
  void schedule_retry(Delivery d, int64_t at_ms);
  void mark_dirty(Destination& d) { dirty_.insert(&d); }
  // Starts (or joins) an MX lookup for d; returns true when endpoints are already known.
  bool resolve_mx(Destination& d, int64_t now);
  // The TLS context and session cache for a policy's verification settings, made on first use.
  TlsProfile tls_profile(const DeliveryPolicy& p);

 private:
  void run();
  void accept_jobs();
  void tick();
  void flush_events();
  Destination& destination_for(const std::string& domain);

  struct Retry {
    int64_t at_ms;
    std::string domain;
    Delivery delivery;
    bool operator>(const Retry& o) const { return at_ms > o.at_ms; }
  };

  uint32_t index_;
  const Config& cfg_;
  Mailbox<DeliveryEvent>& events_;
  Mailbox<DeliveryJob> inbox_;
  ShardCounters counters_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<MxResolver> resolver_;
  struct TlsState;
  std::map<std::pair<bool, std::string>, std::unique_ptr<TlsState>> tls_states_;
  int64_t now_ = 0;
  int64_t next_tick_ms_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations_;
  std::unordered_set<Destination*> dirty_;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries_;
  std::vector<DeliveryJob> incoming_;
  std::vector<DeliveryEvent> outgoing_;
};

// Which shard owns a domain. Stable for a given shard count, so one domain's connections,
// limits and queue always live on one thread.
uint32_t shard_for_domain(const std::string& domain, uint32_t shard_count);

}  // namespace ringpost::engine
