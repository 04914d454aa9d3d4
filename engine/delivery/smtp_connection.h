// Drives one sans-IO smtp::ClientSession over a Transport (a TCP socket on the shard's io_uring
// ring in production, transport.h), with STARTTLS through a sans-IO tls::TlsEngine (OpenSSL
// over memory buffers: the transport keeps owning all socket I/O). Owned by one shard and only
// touched on its thread. Invariant: the object outlives every operation it queued (pending_ops_
// counts them), so the shard frees it only when closed() and idle().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/delivery/transport.h"
#include "engine/runtime/ring.h"
#include "engine/tls/tls_engine.h"
#include "smtp/client_session.h"

namespace ringpost::tls {
class SessionCache;
}

namespace ringpost::engine {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;   // the name we expect the server to be (MX host name or route host): SNI, verification
  std::string label;  // "mx.example.test[192.0.2.1]:25", for replies and logs
  uint16_t preference = 0;  // MX preference of the host; endpoints of equal preference share load
};

// One message's recipients for one destination, as the shard queues and retries them.
struct Delivery {
  std::shared_ptr<const SpooledMessage> msg;
  std::vector<RecipientRef> recipients;
  std::shared_ptr<const std::string> body;  // null: on disk, to be read before sending
};

// What a connection needs to run STARTTLS: the shard's context for the policy and the session
// cache that belongs to that context (a session from an unverified handshake must never be
// resumed where verification is required, hence one cache per context).
struct TlsProfile {
  SSL_CTX* ctx = nullptr;
  tls::SessionCache* sessions = nullptr;
  bool verify = false;
};

class Site;

class SmtpConnection {
 public:
  // `transport`: the byte pipe to `endpoint`, not yet connected (start() connects it).
  SmtpConnection(std::unique_ptr<Transport> transport, Site& site, Endpoint endpoint, smtp::SessionConfig cfg,
                 const SmtpTimeouts& t, int64_t idle_ms, TlsProfile tls);
  ~SmtpConnection();

  void start(int64_t now);
  // Plain text because this endpoint's STARTTLS failed a little earlier (Site's fallback).
  void mark_tls_fallback() { tls_fallback_ = true; }
  // Its address left the route's DNS answer: no new transaction; quit when next fed.
  void mark_stale() { stale_ = true; }
  bool stale() const { return stale_; }
  bool ready() const { return connected_ && !closing_ && !current_ && session_.ready(); }
  bool busy() const { return current_.has_value(); }  // a transaction is under way
  void send(Delivery d, int64_t now);
  void quit(int64_t now);
  // Nothing to send right now: stop the reply deadline and start the idle clock.
  void mark_idle(int64_t now) {
    deadline_ms_ = 0;
    idle_since_ms_ = now;
  }
  // Called by the shard's timer tick: enforces the phase deadline and the idle timeout.
  void tick(int64_t now);
  // When tick() next has something to do (the phase deadline, or the idle timeout of a ready
  // connection); INT64_MAX when nothing: closing, or waiting on an event. The site's due time
  // (Site::next_due_ms) is the earliest of its connections', so keep the two in step.
  int64_t next_due_ms() const {
    if (closing_) return INT64_MAX;
    if (deadline_ms_) return deadline_ms_;
    return ready() ? idle_since_ms_ + idle_ms_ : INT64_MAX;
  }
  // Closing: shut the transport down; the pending recv then completes and the socket is closed.
  void close();

  bool closed() const { return closing_; }
  // True once, the first time it is asked after the connection closed: a closed connection
  // still reports each completion that was in flight (the read its shutdown ends, the
  // QUIT's write), and its site must count its failure once, not per report.
  bool take_closed_report() { return closing_ && !std::exchange(closed_reported_, true); }
  bool idle() const { return pending_ops_ == 0; }
  bool ever_ready() const { return ever_ready_; }
  // The STARTTLS handshake failed (not the server's refusal of STARTTLS): for the
  // opportunistic policy the site retries this endpoint in plain text.
  bool tls_handshake_failed() const { return tls_handshake_failed_; }
  bool tls_active() const { return session_.tls_active(); }
  uint32_t transactions() const { return transactions_; }
  Site& site() { return site_; }
  const Endpoint& endpoint() const { return endpoint_; }
  smtp::ClientSession& session() { return session_; }
  // The in-flight delivery, handed back with the session's results.
  std::optional<Delivery> take_current() { return std::exchange(current_, std::nullopt); }
  // Why the connection failed before it could carry mail (connect error, bad greeting, TLS).
  const smtp::Reply& failure() const { return failure_; }
  // The connection and the start of the transaction whose results are being collected, for
  // the delivery log (attempt_peer.h).
  AttemptTrace trace();

 private:
  struct Op : Completion {
    SmtpConnection* self;
    void (SmtpConnection::*handler)(int);
    Op(SmtpConnection* s, void (SmtpConnection::*h)(int)) : self(s), handler(h) {}
    void on_complete(int res, uint32_t) override {
      --self->pending_ops_;
      (self->*handler)(res);
    }
  };

  void on_connected(int res);
  void on_received(int res);
  void on_sent(int res);
  void receive_plain(int res);
  void receive_tls(int res);
  void start_tls();
  void drive_handshake();
  void capture_tls_session();
  void arm_recv();
  void flush();
  void flush_plain();
  void flush_tls();
  void after_io();
  void update_deadline();

  std::unique_ptr<Transport> transport_;
  Site& site_;
  Endpoint endpoint_;
  smtp::ClientSession session_;
  const SmtpTimeouts& timeouts_;
  int64_t idle_ms_;
  TlsProfile tls_profile_;
  std::unique_ptr<tls::TlsEngine> tls_;
  std::string tls_cache_key_;
  bool tls_resumed_ = false;
  bool tls_handshake_failed_ = false;
  bool tls_shutdown_sent_ = false;
  bool has_socket_ = false;  // connect() made one: there is something to shut down
  int pending_ops_ = 0;
  bool connected_ = false;
  bool ever_ready_ = false;
  bool closing_ = false;
  bool send_in_flight_ = false;
  bool quick_ack_ = false;  // a pipelined group's replies are still coming: ACK each at once
  int64_t deadline_ms_ = 0;  // 0 = not waiting for the server
  int64_t idle_since_ms_ = 0;
  int64_t now_ms_ = 0;
  uint32_t transactions_ = 0;
  std::optional<Delivery> current_;
  int64_t current_started_ms_ = 0;
  std::shared_ptr<const AttemptPeer> peer_;
  bool tls_fallback_ = false;
  bool stale_ = false;  // made on first use; again after STARTTLS
  bool closed_reported_ = false;  // take_closed_report()
  smtp::Reply failure_;
  std::string send_buf_;
  std::size_t send_off_ = 0;
  std::string plain_in_;  // decrypted bytes, reused across reads
  char recv_buf_[16384];
  Op connect_op_{this, &SmtpConnection::on_connected};
  Op recv_op_{this, &SmtpConnection::on_received};
  Op send_op_{this, &SmtpConnection::on_sent};
};

}  // namespace ringpost::engine
