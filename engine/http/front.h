// The HTTP front: one thread with its own io_uring ring serving the JSON API over HTTP/1.1
// keep-alive (multishot accept, one recv per connection, no thread per connection). It owns the
// spool writer and the status store; it hands durable jobs to the shards' mailboxes and takes
// their recipient events back through its own. Nothing here is touched by another thread except
// the events mailbox and the shards' relaxed counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include <tl/expected.hpp>

#include "dkim/signer.h"
#include "engine/security/api_keys.h"
#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/signing/dkim_policy.h"
#include "engine/http/event_feed.h"
#include "engine/http/http_request_parser.h"
#include "engine/http/idempotency.h"
#include "engine/http/idempotency_homes.h"
#include "engine/delivery/live_policy.h"
#include "engine/ops/metrics/front_metrics.h"
#include "engine/delivery/shard_control.h"
#include "engine/runtime/idle_memory.h"
#include "engine/runtime/mailbox.h"
#include "engine/runtime/ring.h"
#include "engine/security/auth_throttle.h"
#include "engine/signing/signing_backlog.h"
#include "engine/signing/signing_pool.h"
#include "engine/spool/spool_writer.h"
#include "engine/runtime/start_signal.h"
#include "engine/http/status_store.h"
#include "queue/spool_ledger.h"

namespace ringpost::api {
struct SubmitMessage;
}

namespace ringpost::engine {

class Shard;
class DeliveryLog;

class Front {
 public:
  Front(const Config& cfg, std::vector<Shard*> shards, Mailbox<DeliveryEvent>& events, PolicyBook& policies,
        Mailbox<ShardAnswer>& answers);
  ~Front();

  // Binds the listening socket (so the port is known, and a busy port fails start-up).
  tl::expected<void, std::string> listen();
  uint16_t port() const { return port_; }
  // Reads the spool and queues every unfinished recipient; before any thread starts.
  tl::expected<std::size_t, std::string> recover();
  void run(const std::atomic<bool>& stop);
  // After run() started on its thread: whether it set itself up (ring, spool), or why not.
  tl::expected<void, std::string> wait_started() { return start_signal_.wait(); }
  // Any thread (SIGHUP): messages accepted from the next request on are signed with `policy`.
  void replace_dkim(std::shared_ptr<const DkimPolicy> policy);
  // Before run(): a Bearer token that acts as an admin key, for the webhook dispatchers.
  void set_internal_token(std::string token) { internal_token_ = std::move(token); }
  // Any thread (SIGHUP): requests from the next one on are checked against `keys`.
  void replace_keys(std::shared_ptr<const KeyRing> keys);
  // Before run(): opens [log] delivery_log (docs/delivery-log.md), so a bad path stops start-up.
  tl::expected<void, std::string> open_delivery_log();
  // Any thread (SIGUSR1): the delivery log is reopened at its path at the next loop turn.
  void reopen_logs();
  // Any thread (SIGTERM): submits get 503 draining and /healthz 503 from the next request on;
  // reads (status, events, stats) keep working while the shards finish. docs/operating.md.
  void begin_drain() { draining_.store(true, std::memory_order_release); }

 private:
  struct Conn;
  struct AcceptOp : Completion {
    Front* self;
    void on_complete(int res, uint32_t flags) override { self->on_accept(res, flags); }
  };

  void arm_accept();
  void on_accept(int res, uint32_t flags);
  // EMFILE/ENFILE (and ENOMEM/ENOBUFS) on accept: the accept stays unarmed for a back-off
  // (100 ms doubling to 1 s) and resume_accept() re-arms it from the loop when that is over.
  void pause_accept(int err);
  void resume_accept();
  // Over [server] max_connections: a one-shot 503 on the fresh socket, then close.
  void refuse_connection(int fd);
  // A receive is armed only when the connection can take more input: not busy, not closing,
  // nothing unparsed left over and at most max_output_bytes of answers waiting to be sent.
  void arm_recv(Conn& c);
  std::size_t output_bytes(const Conn& c) const;
  std::size_t open_connections() const { return conns_.size() - closing_.size(); }
  void on_recv(Conn& c, int res);
  void on_send(Conn& c, int res);
  void process(Conn& c);
  void flush(Conn& c);
  void close(Conn& c);
  void reap();
  void expire_slow_requests();
  void expire_idle_connections();
  void note_idle(Conn& c, int64_t now);
  static constexpr int64_t kAcceptBackoffMinMs = 100, kAcceptBackoffMaxMs = 1000;
  void note_request_started(Conn& c, int64_t now);

  // front_api.cc: the routes.
  void handle(Conn& c, HttpRequest req);
  // A request failed authentication: 401 with `body`, counted against its source address.
  void refuse_auth(Conn& c, const std::string& body);
  void respond(uint64_t conn_id, int status, const std::string& body, bool close_after = false,
               std::string_view extra_headers = {}, std::string_view content_type = "application/json");
  // A request's Idempotency-Key while it is being accepted.
  struct IdempotencyContext {
    std::string owner, key, hash;
    bool batch = false;
  };
  bool idempotency_check(Conn& c, const HttpRequest& req, bool batch);
  void drop_idempotency(const IdempotencyContext& idem);
  // A request's messages between rendering and the spool: signed first when DKIM applies.
  struct PendingAccept {
    uint64_t conn_id = 0;
    bool batch = false;
    int64_t now_ms = 0;
    std::vector<std::shared_ptr<SpooledMessage>> msgs;
    std::vector<std::shared_ptr<const std::string>> bodies;  // parallel to msgs, once rendered (and signed)
    std::vector<std::optional<uint32_t>> body_crcs;  // parallel to bodies when signed: crc32 from the signer's pass
    std::string owner;  // the API key's name; empty without keys
    IdempotencyContext idem;
    std::vector<std::string> tags;      // per message: a JSON object's text, or empty
    std::vector<std::string> metadata;  // per message: a JSON object's text, or empty
    int64_t request_complete_ns = 0;    // steady_ns() when the request was parsed, for /metrics
  };
  void accept_messages(Conn& c, std::vector<api::SubmitMessage> msgs, bool batch);
  void on_signed();
  // Submits wait (unread) while the signing backlog is at a bound: backpressure, not growth.
  bool park_if_signing_full(Conn& c, HttpRequest& req);
  void resume_parked();
  void spool_and_answer(PendingAccept p);
  void dispatch(const std::shared_ptr<const SpooledMessage>& msg, const std::vector<queue::Recipient>& states,
                std::shared_ptr<const std::string> body);
  void apply_events();

  // front_events.cc: GET /v1/events with long-poll.
  struct FeedWait {
    uint64_t conn_id = 0;
    FeedCursor cursor;
    std::string cursor_text;
    std::size_t limit = 100;
    std::string owner;
    bool all = false;
    int64_t deadline_ms = 0;
  };
  void handle_events(Conn& c, const HttpRequest& req);
  void feed(const SpooledMessage& msg, uint32_t recipient, std::string_view type, uint32_t attempts,
            const smtp::Reply& reply, const std::string& owner, const std::string& tags, int64_t at_ms);
  void wake_feed_waiters(bool expire_only);
  void rebuild_feed(const std::vector<queue::Message>& messages);

  // front_admin.cc: /v1/domains (docs/shaping.md).
  struct AdminWait {
    enum class Kind : uint8_t { list, one, retry_now, bounce_all };
    uint64_t conn_id = 0;
    Kind kind = Kind::list;
    std::string domain;
    uint32_t remaining = 0;
    std::vector<ShardAnswer> answers;
  };
  bool handle_admin(Conn& c, const HttpRequest& req, const std::string& path);
  bool authorized_admin(Conn& c, const HttpRequest& req);
  bool change_override(uint64_t conn_id, const std::string& domain, const DomainOverride& o);
  std::string overrides_path() const;
  void ask_shards(uint64_t conn_id, AdminWait::Kind kind, std::string domain, smtp::Reply reply);
  void on_shard_answers();
  void finish_admin(const AdminWait& w);
  std::string domain_json(const std::string& domain, const std::vector<ShardAnswer>& answers) const;

  // front_spool.cc: the spool's life after start-up (docs/spool.md).
  tl::expected<void, std::string> lock_spool();
  void rebuild_idempotency(const std::vector<queue::Message>& messages, int64_t now);
  tl::expected<void, std::string> open_spool();
  // A message has nothing left to deliver: its segment may become reclaimable.
  void on_finished(const SpooledMessage& msg, int64_t finished_at_ms);
  void reclaim();
  // Before segment seq is deleted: writes its unexpired idempotency answers forward and
  // deletes it once they are durable. False when there were none to carry.
  bool carry_idempotency_then_delete(uint32_t seq);
  void delete_segment(uint32_t seq);
  void compact_oldest();
  void expire_statuses();
  std::string spool_stats_json() const;
  std::string stats_json() const;

  const Config& cfg_;
  std::vector<Shard*> shards_;
  std::vector<bool> shard_touched_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  // Declared before the ring, so destroyed after it: a write in flight names its buffer.
  std::unique_ptr<DeliveryLog> delivery_log_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<SpoolWriter> spool_;
  int spool_lock_fd_ = -1;
  queue::SpoolLedger ledger_;
  std::map<uint32_t, std::string> segment_paths_;  // every segment the ledger knows
  // Recovered segment files, kept open until the writer starts (then only messages hold them).
  std::vector<std::shared_ptr<const SegmentFile>> recovered_segments_;
  // Messages with something left to deliver, for compaction and for knowing when one finishes.
  std::unordered_map<std::string, std::shared_ptr<const SpooledMessage>> live_;
  bool compacting_ = false;
  int64_t next_compaction_ms_ = 0;
  Mailbox<DeliveryEvent>& events_;
  std::vector<DeliveryEvent> event_batch_;
  // [limits] (docs/security.md "Stored state"): the stores evict what they must and count it
  // in ringpost_limit_hits_total{limit} through limit_hit_ (metrics_ is declared last, but a
  // store only calls it once the front is running or recovering, after construction).
  std::function<void(std::string_view)> limit_hit_ = [this](std::string_view limit) { metrics_.limit_hit(limit); };
  StatusStore status_{StatusLimits{cfg_.limits.status_max_messages, cfg_.limits.status_max_bytes,
                                   cfg_.limits.stored_reply_bytes},
                      limit_hit_};
  PolicyBook& policies_;
  std::shared_ptr<const KeyRing> keys_;
  std::string internal_token_;
  std::atomic<std::shared_ptr<const KeyRing>> keys_next_;
  std::atomic<bool> keys_changed_{false};
  std::unique_ptr<RequestLimiter> limiter_ = std::make_unique<LocalRequestLimiter>();
  EventFeed feed_{cfg_.limits.event_feed_max, cfg_.limits.stored_reply_bytes, limit_hit_};
  AuthThrottle auth_throttle_;
  std::vector<FeedWait> feed_waits_;
  bool feed_grew_ = false;
  std::unique_ptr<IdempotencyStore> idempotency_ = std::make_unique<LocalIdempotencyStore>(
      IdempotencyLimits{cfg_.limits.idempotency_max_keys, cfg_.limits.idempotency_max_bytes}, limit_hit_);
  IdempotencyHomes idempotency_homes_;
  bool carrying_idempotency_ = false;
  // [[webhooks]]: the feed position each dispatcher has had acknowledged (the `after` of its
  // latest request; from its cursor file at start-up), and per segment the time its last
  // message finished. A finished segment is deleted only once every dispatcher is past that
  // time (or [spool] webhook_hold is over), so a restart can still rebuild the events it owes.
  std::map<std::string, int64_t> webhook_acked_ms_;
  std::unordered_map<uint32_t, int64_t> segment_finished_ms_;
  bool held_for_webhooks(uint32_t seq, int64_t now);
  Mailbox<ShardAnswer>& answers_;
  std::vector<ShardAnswer> answer_batch_;
  std::unordered_map<uint64_t, AdminWait> admin_waits_;
  uint64_t next_admin_id_ = 1;
  AcceptOp accept_op_;
  bool accept_armed_ = false;        // a multishot accept SQE is live
  int64_t accept_paused_until_ms_ = 0;  // 0: not paused
  int64_t accept_backoff_ms_ = 0;    // the next pause; 0 after a successful accept
  uint64_t accept_failures_ = 0;     // since the last log line
  int64_t next_accept_log_ms_ = 0;
  // Keep-alive connections that went idle, (since, conn id), at most one entry per connection
  // (Conn::idle_queued): an entry that reaches the front for a connection that was busy since
  // is dropped or moved to the back with the connection's current idle time.
  std::deque<std::pair<int64_t, uint64_t>> idle_;
  int64_t next_idle_check_ms_ = 0;
  uint64_t next_conn_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  // Both lists keep per-iteration work proportional to what changed, not to the number of
  // connections: 10,000 idle keep-alive clients must cost nothing per loop.
  std::vector<uint64_t> closing_;  // conns marked closing, freed by reap() once no SQE names them
  // (first byte of an unfinished request, conn id), oldest first; entries whose conn has since
  // moved on are stale and dropped when they reach the front.
  std::deque<std::pair<int64_t, uint64_t>> started_;
  // Requests whose headers were in by header_timeout, waiting out request_timeout, oldest first.
  std::deque<std::pair<int64_t, uint64_t>> bodies_started_;
  int64_t next_slow_check_ms_ = 0;
  std::atomic<bool> draining_{false};
  // DKIM signing at acceptance (docs/dkim.md). dkim_ belongs to the front thread; a reload is
  // handed over through dkim_next_ and picked up at the next accept_messages.
  std::shared_ptr<const DkimPolicy> dkim_;
  std::atomic<std::shared_ptr<const DkimPolicy>> dkim_next_;
  std::atomic<bool> dkim_replaced_{false};
  // Declared before the pool: the pool's workers post into it until the pool is joined.
  StartSignal start_signal_;
  Mailbox<std::unique_ptr<SignJob>> signed_;
  std::unique_ptr<SigningPool> signing_;  // started on the first message that needs DKIM
  std::unordered_map<uint64_t, PendingAccept> awaiting_signature_;  // key: SignJob::tag
  uint64_t next_sign_tag_ = 1;
  SigningBacklog signing_backlog_{cfg_.signing_queue_messages, cfg_.signing_queue_bytes};
  // Connections whose submit request waits for the backlog to fall under its bounds, oldest
  // first (their request is in Conn::parked). At most one per connection.
  std::deque<uint64_t> parked_;
  std::vector<std::unique_ptr<SignJob>> signed_batch_;
  FrontMetrics metrics_{cfg_.metrics_top_sites};  // GET /metrics (docs/metrics.md)
  // Moves on every receive, event and expiry: once it stops for a while, release_idle_memory()
  // gives a burst's buffers and freed pages back (engine/runtime/idle_memory.h).
  uint64_t work_ = 0;
  QuietRelease quiet_{kQuietReleaseMs};
  void release_idle_memory();
};

// One HTTP client connection. Freed only once no SQE names it (pending_ops == 0).
struct Front::Conn {
  struct Op : Completion {
    Conn* conn;
    bool is_send;
    Op(Conn* c, bool s) : conn(c), is_send(s) {}
    void on_complete(int res, uint32_t) override {
      --conn->pending_ops;
      if (is_send) conn->front->on_send(*conn, res);
      else conn->front->on_recv(*conn, res);
    }
  };
  Conn(Front* f, uint64_t i, int socket, std::size_t max_body) : front(f), id(i), fd(socket), parser(max_body) {}
  ~Conn() { ::close(fd); }

  Front* front;
  uint64_t id;
  int fd;
  std::string peer;  // the client's IP address, for the failed-authentication throttle
  HttpRequestParser parser;
  std::string in;
  std::string out;      // responses not yet handed to the kernel
  std::string extra_headers;  // for every response to the current request (RateLimit-*)
  std::optional<ApiKey> key;  // the current request's key
  Front::IdempotencyContext idem;  // the current request's Idempotency-Key, until accepted
  std::optional<HttpRequest> parked;  // a submit waiting for the signing backlog (busy meanwhile)
  std::string sending;  // the buffer the kernel is reading now
  std::size_t sent = 0;
  bool busy = false;          // a request is waiting (spool commit); later ones wait behind it
  bool recv_armed = false;    // a recv SQE is live (see Front::arm_recv for when one is not)
  bool output_paused = false;  // parsing stopped at max_output_bytes (counted once per pause)
  int64_t idle_since_ms = 0;  // nothing under way since then (0: something is)
  bool idle_queued = false;   // has an entry in Front::idle_ (at most one, so idle_ is bounded)
  int64_t request_started_ms = 0;  // first byte of a request not yet complete (0: none)
  int64_t request_complete_ns = 0;  // steady_ns() when the current request was parsed (submit latency)
  bool close_after = false;   // close once everything queued is sent
  bool closing = false;
  bool send_in_flight = false;
  int pending_ops = 0;
  char buf[16384];
  Op recv_op{this, false};
  Op send_op{this, true};
};

}  // namespace ringpost::engine
