// One delivery shard: a thread with its own io_uring ring. It routes the domains that hash to it
// (static route, address literal or MX lookup) and owns the sites (connection pools, queues,
// retry timers) whose site key hashes to it; a delivery whose site lives elsewhere is handed to
// that shard with its route. Jobs arrive through its inbox; recipient state changes leave
// through the front's event mailbox. Nothing here is shared with another thread except the
// mailboxes and the relaxed counters.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <random>

#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/delivery/live_policy.h"
#include "engine/delivery/shard_control.h"
#include "engine/delivery/shard_counters.h"
#include "engine/delivery/site_host.h"
#include "engine/runtime/start_signal.h"
#include "engine/runtime/idle_memory.h"
#include "engine/runtime/mailbox.h"
#include "engine/runtime/ring.h"
#include "engine/runtime/timer_heap.h"
#include "engine/delivery/route.h"
#include "engine/ops/metrics/shard_metrics.h"
#include "engine/delivery/site.h"

namespace ringpost::engine {

class MxResolver;

// Front → shard, and shard → shard once the route is known (then `route` is set).
struct ShardJob {
  DeliveryJob job;
  RoutePtr route;
};

// The SiteHost of every site it owns (site_host.h).
class Shard final : public SiteHost {
 public:
  Shard(uint32_t index, const Config& cfg, Mailbox<DeliveryEvent>& events, const PolicyBook& policies,
        Mailbox<ShardAnswer>& answers);
  ~Shard();

  // All shards, for handing deliveries to the shard that owns their site. Before start() (or
  // the first step(), whose shard is never started: so the flags are sized here, not in start()).
  void set_peers(std::vector<Shard*> peers) {
    peers_ = std::move(peers);
    peer_touched_.assign(peers_.size(), false);
  }
  void start();
  // After start(): whether the thread set itself up (ring, resolver), or why not.
  tl::expected<void, std::string> wait_started() { return started_.wait(); }
  // Wakes the loop too: it may be asleep for up to half a second when nothing is due.
  void request_stop() {
    stop_.store(true, std::memory_order_relaxed);
    control_.notify();
  }
  void join();

  Mailbox<ShardJob>& inbox() { return inbox_; }
  Mailbox<ShardCommand>& control() { return control_; }
  ShardCounters& counters() override { return counters_; }
  // Written by this shard only; the front reads it for /metrics.
  ShardMetrics& metrics() override { return metrics_; }

  // SiteHost, for its sites and their connections, on the shard thread only.
  int64_t now() const override { return now_; }
  const std::string& hostname() const override { return cfg_.hostname; }
  // `host`: the MX host (endpoint) the attempt talked to, for the status' attempt history.
  void report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
              uint32_t attempts, const smtp::Reply& reply, const std::string& site = {},
              const std::string& host = {}, const AttemptTrace& trace = {}) override;
  // d's recipients wait for a suspension to end at until_ms (the site's [[rules]] suspension,
  // or an operator's of their domain): reported deferred with `why` and that time, no attempt
  // counted (DeliveryEvent::hold). Called once per suspension per delivery, not per tick.
  void report_hold(const Delivery& d, const smtp::Reply& why, int64_t until_ms, const std::string& site) override;
  // `route`: the route d was on (its site's), kept with it so the retry needs no new lookup.
  void schedule_retry(Delivery d, int64_t at_ms, RoutePtr route = nullptr) override;
  // Counts an attempt for every recipient of d and retries or expires them by policy.
  void defer(Delivery d, const smtp::Reply& why, const queue::RetryPolicy& retry, const std::string& site = {},
             RoutePtr route = nullptr) override;
  // One recipient's failed attempt: reported deferred and added to `again` (its next
  // attempt goes to again_at), or reported expired once the policy gives up.
  void defer_recipient(const RecipientRef& r, const smtp::Reply& why, const queue::RetryPolicy& retry,
                       Delivery& again, int64_t& again_at, const std::string& site = {},
                       const std::string& host = {}, const AttemptTrace& trace = {}) override;
  void mark_dirty(Site& s) override { dirty_.insert(&s); }
  // Stopping: sites hand out no more mail and close idle connections with QUIT.
  bool draining() const override { return draining_; }
  // The TLS context and session cache for a policy's verification settings, made on first use.
  TlsProfile tls_profile(const DeliveryPolicy& p) override;
  const ResponseRules& rules() const override { return live_->config->rules; }
  // Before start(): where sites get their rate budget (default: local token buckets).
  void set_destination_limiters(DestinationLimiterFactory f) { make_limiter_ = std::move(f); }
  std::unique_ptr<DestinationLimiter> make_destination_limiter(const std::string& site) const override {
    return make_limiter_(site);
  }
  // A delivery of a message an operator bounced (bounce-all) is reported bounced, not sent.
  bool bounced_by_operator(const std::string& domain, const Delivery& d) override;
  // A TCP socket on this shard's ring (ring_transport.h).
  std::unique_ptr<Transport> make_transport() override;
  // A read on this shard's ring.
  void read_body(const BodyRef& at, std::span<char> into, Completion& done) override;

  // The unit tests' seam (tests/delivery/shard_*_test.cc), never used in production: a shard
  // that is never start()ed has no thread, ring or resolver, and the test drives it on its own
  // thread with a fake clock. step(now) is one iteration of run()'s loop with `now` where run()
  // reads the clock after the ring's wait; completions come from the test's in-memory
  // transports (TestIo) instead of the ring. Without a resolver only static routes and address
  // literals get a route: a domain that needs an MX lookup waits in its route entry (counted in
  // counters().dns_lookups). Before the first step().
  struct TestIo {
    std::function<std::unique_ptr<Transport>()> transport;
    std::function<void(const BodyRef&, std::span<char>, Completion&)> read_body;
  };
  void set_test_io(TestIo io) { test_io_ = std::move(io); }
  void step(int64_t now) {
    now_ = now;
    iterate();
  }
  // Route entries held (domains routed and not yet evicted), for the tests.
  std::size_t route_entries() const { return routes_.size(); }

 private:
  struct RouteEntry {
    RoutePtr route;
    smtp::Reply failure;
    int64_t expires_ms = 0;
    bool pending = false;
    std::vector<Delivery> waiting;
    int64_t used_ms = 0;  // last message routed by it (eviction)
    const std::string* domain = nullptr;  // its key in routes_ (node keys do not move)
    TimerSlot evict_timer;                // route_timers_: when to check it for eviction
    TimerSlot& timer_slot() { return evict_timer; }
  };
  // A site's visit: on an event (dirty_) or when its timer is due. Pumps and reaps it, then
  // evicts it (Site::evictable) or sets its next due time (Site::next_due_ms).
  void visit(Site& s);
  void evict(Site& s);
  // Returns freed memory to the kernel during a long run of evictions (malloc_trim); once they
  // pause, release_idle_memory() does it.
  void trim_after_evictions();
  std::size_t evicted_since_trim_ = 0;
  // Moves with every job, event and eviction: once it stops for a while, the shard shrinks its
  // containers to what they hold and trims the heap (engine/runtime/idle_memory.h).
  uint64_t work_ = 0;
  QuietRelease quiet_{kQuietReleaseMs};
  void release_idle_memory();
  // Its queued and connection counts into counters_.queued and /metrics, as changes since the
  // site's last visit: no tick walks every site to sum them.
  void publish(Site& s, int64_t queued, int64_t connections);
  // A route entry's eviction check is due: dropped when unused for site_idle_evict, else
  // checked again when it could be.
  void check_route(RouteEntry& e);
  struct Retry {
    int64_t at_ms;
    std::string domain;
    Delivery delivery;
    // The route the delivery was on, so a retry goes straight back to its site until the
    // route's TTL ends (one DNS answer per domain, cached on the domain's shard only); null
    // after a failed lookup or for a scheduled message: then it is routed again.
    RoutePtr route;
    uint64_t config_serial = 0;  // config_serial_ when scheduled: a reload may change routes
    bool operator>(const Retry& o) const { return at_ms > o.at_ms; }
  };
  struct TlsState;

  void run();
  // One turn of run()'s loop after the ring's wait, at now_: jobs, commands, the tick when due,
  // the dirty sites' visits, events out.
  void iterate();
  void drain();
  void accept_jobs();
  void tick();
  // How long the ring may wait for I/O before the loop must run again: until the earliest
  // timer (a retry, a site, a route entry) or the next tick, at most kIdleWaitMs.
  int wait_ms() const;
  // A retry is due: to its site while its route is fresh, else routed again by the domain's shard.
  void retry(Retry r);
  uint64_t config_serial_ = 0;  // bumped when a reload replaces the config
  void flush_events();
  // Limits changed (SIGHUP or an operator): every site takes the new ones.
  void refresh_policies();
  void run_commands();

  ShardAnswer answer(const ShardCommand& cmd);
  // Sends d on its way: cached route → its site (here or on the owning shard); else a lookup.
  void route(const std::string& domain, Delivery d);
  void dispatch(const std::string& domain, Delivery d, const RouteEntry& e);
  void on_resolved(const std::string& domain, RoutePtr route, smtp::Reply failure, int64_t expires_ms);
  RoutePtr static_route(const std::string& domain, const DeliveryPolicy& p) const;
  // A route from DNS or an address literal without its endpoints in [delivery]
  // blocked_networks; when none is left, null and `failure` says why (550 5.7.1).
  RoutePtr without_blocked(const std::string& domain, RoutePtr route, smtp::Reply& failure) const;
  Site& site_for(const RoutePtr& route, const std::string& domain);

  uint32_t index_;
  const Config& cfg_;
  Mailbox<DeliveryEvent>& events_;
  Mailbox<ShardJob> inbox_;
  Mailbox<ShardCommand> control_;
  Mailbox<ShardAnswer>& answers_;
  const PolicyBook& policies_;
  std::shared_ptr<const LivePolicy> live_;
  uint64_t policy_generation_ = 0;
  std::mt19937 jitter_rng_;
  std::vector<ShardCommand> commands_;
  std::unordered_map<std::string, std::size_t> retries_by_domain_;  // deliveries in retries_
  std::unordered_map<std::string, std::pair<int64_t, smtp::Reply>> bounce_marks_;  // by domain
  std::vector<Shard*> peers_;
  std::vector<bool> peer_touched_;
  ShardCounters counters_;
  ShardMetrics metrics_{cfg_.metrics_top_sites};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  StartSignal started_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<MxResolver> resolver_;
  TestIo test_io_;  // empty in production: the ring's transports and reads
  std::map<std::pair<bool, std::string>, std::unique_ptr<TlsState>> tls_states_;
  bool has_named_routes_ = false;
  DestinationLimiterFactory make_limiter_ = [](const std::string&) { return std::make_unique<LocalDestinationLimiter>(); };
  static bool names_route_hosts(const Config& cfg);
  bool draining_ = false;  // a static route names a host to look up
  int64_t now_ = 0;
  int64_t next_tick_ms_ = 0;
  std::unordered_map<std::string, RouteEntry> routes_;  // by domain
  std::unordered_map<std::string, std::unique_ptr<Site>> sites_;  // by site key
  std::unordered_set<Site*> dirty_;
  // Sites and route entries by the time they next need the tick (engine/runtime/timer_heap.h):
  // a tick visits those due, not every one ever seen (issue 20, defect 3). Every site is in
  // site_timers_ or dirty_ (or being visited); an evicted one leaves both.
  TimerHeap<Site> site_timers_;
  TimerHeap<RouteEntry> route_timers_;
  std::size_t route_waiting_ = 0;  // deliveries in routes_' waiting lists, for counters_.queued
  int64_t site_queued_ = 0;        // sum of the sites' queued(), as of their last visits
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries_;
  std::vector<ShardJob> incoming_;
  std::vector<DeliveryEvent> outgoing_;
};

// Which shard owns a key (a domain for routing, a site key for its pool). Stable for a given
// shard count, so a domain's routing and a site's connections and limits live on one thread.
uint32_t shard_for_domain(const std::string& key, uint32_t shard_count);

}  // namespace ringpost::engine
