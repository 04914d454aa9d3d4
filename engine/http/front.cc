// See front.h: the HTTP connection I/O. Requests on one connection are handled one at a time
// (the parser pauses after each), so pipelined requests are answered in order even when the
// first waits for a spool commit.
#include "engine/http/front.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/api/api_error.h"
#include "engine/runtime/clock.h"
#include "engine/ops/delivery_log.h"
#include "engine/delivery/shard.h"

namespace ringpost::engine {

Front::Front(const Config& cfg, std::vector<Shard*> shards, Mailbox<DeliveryEvent>& events, PolicyBook& policies,
             Mailbox<ShardAnswer>& answers)
    : cfg_(cfg), shards_(std::move(shards)), shard_touched_(shards_.size(), false), events_(events),
      policies_(policies), keys_(std::make_shared<const KeyRing>(cfg.keys)), answers_(answers),
      dkim_(make_dkim_policy(cfg)) {
  accept_op_.self = this;
  delivery_log_ = std::make_unique<DeliveryLog>(cfg.log);
  auth_throttle_ = AuthThrottle(AuthThrottleConfig{cfg.limits.auth_failures_per_minute, 60'000,
                                                   cfg.limits.auth_throttle_max_sources});
}

void Front::replace_dkim(std::shared_ptr<const DkimPolicy> policy) {
  dkim_next_.store(std::move(policy));
  dkim_replaced_.store(true, std::memory_order_release);
}

void Front::replace_keys(std::shared_ptr<const KeyRing> keys) {
  keys_next_.store(std::move(keys));
  keys_changed_.store(true, std::memory_order_release);
}

tl::expected<void, std::string> Front::open_delivery_log() { return delivery_log_->open(); }

void Front::reopen_logs() { delivery_log_->request_reopen(); }

Front::~Front() {
  conns_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (spool_lock_fd_ >= 0) ::close(spool_lock_fd_);  // releases the spool's lock
}

tl::expected<void, std::string> Front::listen() {
  auto hp = parse_host_port(cfg_.http_listen);
  if (!hp) return tl::make_unexpected(fmt::format("server.http_listen: {}", hp.error()));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(hp->port);
  if (inet_pton(AF_INET, hp->host.c_str(), &addr.sin_addr) != 1)
    return tl::make_unexpected(fmt::format("server.http_listen: '{}' is not an IPv4 address", hp->host));
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0)
    return tl::make_unexpected(fmt::format("cannot listen on {}: socket: {}", cfg_.http_listen, std::strerror(errno)));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // After a kill -9 the old process's listener lingers for some tens of ms while the kernel
  // tears its io_uring down (the multishot accept holds the socket); a supervisor restarting
  // at once would otherwise fail with EADDRINUSE.
  int rc = -1;
  for (int attempt = 0; attempt < 40; ++attempt) {
    rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc == 0 || errno != EADDRINUSE) break;
    ::usleep(50 * 1000);
  }
  // The kernel caps the backlog at net.core.somaxconn; thousands of clients connecting at once
  // (a load balancer's pool reconnecting) should queue, not wait out a SYN retransmit.
  if (rc < 0 || ::listen(listen_fd_, SOMAXCONN) < 0)
    return tl::make_unexpected(fmt::format("cannot listen on {}: {}", cfg_.http_listen, std::strerror(errno)));
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  return {};
}

void Front::run(const std::atomic<bool>& stop) {
  try {
    ring_ = std::make_unique<Ring>();  // on this thread: SINGLE_ISSUER
  } catch (const std::exception& e) {
    return start_signal_.failed(fmt::format("the HTTP front cannot start: {}", e.what()));
  }
  ring_->count_into(&metrics_.ring());
  if (auto r = open_spool(); !r) return start_signal_.failed(r.error());
  events_.arm(*ring_);
  signed_.arm(*ring_);
  answers_.arm(*ring_);
  arm_accept();
  delivery_log_->start(*ring_);
  start_signal_.ok();
  while (!stop.load(std::memory_order_relaxed)) {
    ring_->run_once(50);
    on_signed();
    on_shard_answers();
    apply_events();
    wake_feed_waiters(true);
    reclaim();
    expire_statuses();
    expire_slow_requests();
    expire_idle_connections();
    resume_accept();
    spool_->flush();
    delivery_log_->flush();
    reap();
    quiet_.observe(work_, now_ms());
    if (quiet_.due(now_ms())) release_idle_memory();
  }
  // The shards have drained (Engine::stop joins them first): record their last outcomes, then
  // make everything appended durable, OUTCOMEs included, so a restart repeats no delivery that
  // was confirmed. The same commit answers requests accepted in the last iteration. Bounded:
  // a disk that hangs must not hang the exit.
  apply_events();
  bool synced = false, sync_ok = false;
  spool_->when_durable([&](bool ok) {
    synced = true;
    sync_ok = ok;
  });
  for (int i = 0; i < 200 && !synced; ++i) {
    spool_->flush();  // a no-op while an earlier commit is in flight
    ring_->run_once(50);
  }
  if (!sync_ok) spdlog::error("spool: the final sync failed or timed out; some deliveries may be repeated after restart");
  // Let the answers that commit produced reach the kernel before the sockets close.
  auto sending = [this] {
    for (auto& [id, c] : conns_)
      if (c->send_in_flight || !c->out.empty()) return true;
    return false;
  };
  for (int i = 0; i < 20 && sending(); ++i) ring_->run_once(50);
  delivery_log_->finish();
  // Requests still being signed were never spooled: nothing of theirs was accepted.
  signing_.reset();
  awaiting_signature_.clear();
  conns_.clear();
  spool_.reset();
}

void Front::arm_accept() {
  io_uring_prep_multishot_accept(ring_->sqe(&accept_op_), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  accept_armed_ = true;
}

void Front::on_accept(int res, uint32_t flags) {
  // Multishot accept stops on errors (and when the kernel drops it): re-arm whenever the
  // kernel says no more CQEs will come from this SQE, unless accepting is paused (below).
  if (!(flags & IORING_CQE_F_MORE)) accept_armed_ = false;
  if (res < 0) {
    // Out of file descriptors (or kernel memory): the connection stays in the listen backlog,
    // so re-arming at once fails again at once; that spin once wrote 4.2 million log lines a
    // minute. Pause instead; open connections keep being served meanwhile.
    if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) return pause_accept(-res);
    // ECANCELED: shutting down. Others (ECONNABORTED: the client left first) are per
    // connection: the next one may well succeed.
    if (res != -ECANCELED) {
      spdlog::warn("accept: {}", std::strerror(-res));
      if (!accept_armed_ && !accept_paused_until_ms_) arm_accept();
    }
    return;
  }
  if (!accept_armed_ && !accept_paused_until_ms_) arm_accept();
  if (accept_backoff_ms_) {
    spdlog::info("accept: accepting again ({} failure(s) since the last report)", accept_failures_);
    accept_failures_ = 0;
    next_accept_log_ms_ = 0;
    accept_backoff_ms_ = 0;
  }
  // Over max_connections: answered and closed rather than left in the backlog. Not accepting
  // would look the same to every client (a connect that hangs until its own timeout) and would
  // hide the reason; a 503 with a code tells a load balancer to go elsewhere now, and costs one
  // descriptor for the moment of one send.
  if (open_connections() >= cfg_.max_connections) return refuse_connection(res);
  int one = 1;
  ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint64_t id = next_conn_id_++;
  auto conn = std::make_unique<Conn>(this, id, res, cfg_.max_request_bytes);
  Conn& c = *conn;
  // Once per connection (keep-alive), not per request: the throttle keys on the address.
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (::getpeername(res, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* a = peer.ss_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr)
                                               : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr);
    if (::inet_ntop(peer.ss_family, a, text, sizeof text)) c.peer = text;
  }
  conns_.emplace(id, std::move(conn));
  metrics_.set_open_connections(open_connections());
  note_idle(c, now_ms());
  arm_recv(c);
}

void Front::pause_accept(int err) {
  const int64_t now = now_ms();
  // One series for descriptors (RLIMIT_NOFILE, fs.file-max), one for kernel memory.
  metrics_.limit_hit(err == EMFILE || err == ENFILE ? "open_files" : "accept_no_memory");
  ++accept_failures_;
  accept_backoff_ms_ = accept_backoff_ms_ ? std::min<int64_t>(accept_backoff_ms_ * 2, kAcceptBackoffMaxMs)
                                          : kAcceptBackoffMinMs;
  accept_paused_until_ms_ = now + accept_backoff_ms_;
  // One line per second at most, with the count since the last one: the condition is what an
  // operator needs to see, not each of its repeats.
  if (now >= next_accept_log_ms_) {
    spdlog::warn("accept: {} ({} time(s) since the last report); not accepting for {} ms, open connections are "
                 "still served", std::strerror(err), accept_failures_, accept_backoff_ms_);
    accept_failures_ = 0;
    next_accept_log_ms_ = now + kAcceptBackoffMaxMs;
  }
}

void Front::resume_accept() {
  if (!accept_paused_until_ms_ || now_ms() < accept_paused_until_ms_) return;
  accept_paused_until_ms_ = 0;
  if (!accept_armed_) arm_accept();
}

void Front::refuse_connection(int fd) {
  metrics_.limit_hit("max_connections");
  static constexpr std::string_view kBody =
      R"({"error":{"code":"too_many_connections","message":"the server has max_connections open; retry later or elsewhere"}})";
  const std::string answer = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Retry-After: 1\r\nConnection: close\r\n\r\n{}",
      kBody.size(), kBody);
  // A fresh socket's send buffer takes this whole; MSG_DONTWAIT so a failure never blocks the
  // loop (the client then just sees the close).
  (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  // Half-close, then close: the client reads the answer before the end of the stream (a close
  // with unread request bytes in our receive buffer would reset the connection instead).
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

std::size_t Front::output_bytes(const Conn& c) const { return c.out.size() + (c.sending.size() - c.sent); }

void Front::arm_recv(Conn& c) {
  // Backpressure: while a request is being processed, while answers pile up unread by the
  // client, or while bytes already received wait to be parsed, the kernel's socket buffer
  // (and then TCP's window) holds the client back instead of our memory. So a connection
  // never holds more than max_request_bytes in a request plus one receive of unparsed input,
  // and max_output_bytes plus one response of output.
  if (c.recv_armed || c.closing || c.busy || c.close_after || !c.in.empty() || output_bytes(c) > cfg_.max_output_bytes)
    return;
  io_uring_prep_recv(ring_->sqe(&c.recv_op), c.fd, c.buf, sizeof c.buf, 0);
  ++c.pending_ops;
  c.recv_armed = true;
}

void Front::on_recv(Conn& c, int res) {
  c.recv_armed = false;
  if (res <= 0 || c.closing) {
    close(c);
    return;
  }
  ++work_;
  c.idle_since_ms = 0;
  c.in.append(c.buf, static_cast<std::size_t>(res));
  if (!c.request_started_ms) note_request_started(c, now_ms());
  metrics_.note_conn_input(c.in.size() + c.parser.buffered());
  process(c);
}

void Front::process(Conn& c) {
  while (!c.busy && !c.close_after && !c.in.empty()) {
    // The client is not reading its answers: parse nothing more until it does (on_send).
    if (output_bytes(c) > cfg_.max_output_bytes) {
      if (!c.output_paused) metrics_.limit_hit("max_output_bytes");  // once per pause
      c.output_paused = true;
      break;
    }
    c.output_paused = false;
    HttpRequestParser::Result r = c.parser.feed(c.in);
    c.in.erase(0, r.consumed);
    if (r.status == HttpRequestParser::Status::need_more) {
      // Not busy, so every earlier answer is already queued: the 100 cannot overtake one.
      if (c.parser.take_continue()) {
        c.out += "HTTP/1.1 100 Continue\r\n\r\n";
        flush(c);
      }
      break;
    }
    if (r.status == HttpRequestParser::Status::error) {
      api::ApiError e{r.http_status, r.error_code, r.error_message, ""};
      if (r.http_status == 413) {
        e.limit = "max_request_bytes";
        e.limit_value = cfg_.max_request_bytes;
        metrics_.limit_hit("max_request_bytes");
      }
      respond(c.id, r.http_status, api::to_json(e), true);
      break;
    }
    HttpRequest req = c.parser.take();
    c.request_complete_ns = steady_ns();
    c.request_started_ms = 0;
    if (!c.in.empty()) note_request_started(c, now_ms());  // bytes left over begin the next one
    if (!req.keep_alive) c.close_after = true;
    if (park_if_signing_full(c, req)) break;
    handle(c, std::move(req));
  }
  arm_recv(c);
}

void Front::flush(Conn& c) {
  if (c.closing || c.send_in_flight) return;
  if (c.sent == c.sending.size()) {
    if (c.out.empty()) {
      if (c.close_after && !c.busy) close(c);
      else if (!c.busy && !c.request_started_ms && c.in.empty()) note_idle(c, now_ms());
      return;
    }
    c.sending.swap(c.out);
    c.out.clear();
    c.sent = 0;
  }
  io_uring_prep_send(ring_->sqe(&c.send_op), c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent,
                     MSG_NOSIGNAL);
  ++c.pending_ops;
  c.send_in_flight = true;
}

void Front::on_send(Conn& c, int res) {
  c.send_in_flight = false;
  if (res < 0) {
    close(c);
    return;
  }
  c.sent += static_cast<std::size_t>(res);
  flush(c);
  // The client read some answers: requests held back by max_output_bytes may go on.
  if (!c.closing && !c.busy) process(c);
}

void Front::close(Conn& c) {
  if (!c.closing) {
    c.closing = true;
    ::shutdown(c.fd, SHUT_RDWR);  // completes the pending recv; the fd is closed when freed
    closing_.push_back(c.id);
  }
}

void Front::note_request_started(Conn& c, int64_t now) {
  c.request_started_ms = now;
  started_.emplace_back(now, c.id);
}

void Front::note_idle(Conn& c, int64_t now) {
  if (c.idle_since_ms) return;
  c.idle_since_ms = now;
  if (c.idle_queued) return;  // its entry is re-queued with this time when it comes up
  c.idle_queued = true;
  idle_.emplace_back(now, c.id);
}

// Each request is timed from its first byte: its headers must be in by header_timeout and all
// of it by request_timeout (slow loris), answered 408 and closed. Requests go through two
// queues in start order: started_ until their headers are in, then bodies_started_.
void Front::expire_slow_requests() {
  const int64_t now = now_ms();
  if (now < next_slow_check_ms_) return;
  next_slow_check_ms_ = now + 250;
  const int64_t request_limit = cfg_.request_timeout.count();
  const int64_t header_limit = std::min<int64_t>(cfg_.header_timeout.count(), request_limit);
  // A connection waiting on us (spool, signing, long poll) or on the client reading its answers
  // (max_output_bytes) is not the client being slow to send: re-queued, those entries only wait
  // behind younger ones, at most one limit later than their due time.
  auto waiting_on_us = [this](const Conn& c) { return c.busy || output_bytes(c) > cfg_.max_output_bytes; };
  auto live = [this](uint64_t id, int64_t started) -> Conn* {
    auto it = conns_.find(id);
    if (it == conns_.end()) return nullptr;
    Conn& c = *it->second;
    if (c.request_started_ms != started || c.closing || c.close_after) return nullptr;  // moved on
    return &c;
  };
  auto time_out = [this](Conn& c, bool headers) {
    c.request_started_ms = 0;
    metrics_.limit_hit(headers ? "header_timeout" : "request_timeout");
    respond(c.id, 408,
            headers ? R"({"error":{"code":"header_timeout","message":"the request line and headers were not complete in time"}})"
                    : R"({"error":{"code":"request_timeout","message":"the request was not complete in time"}})",
            true);
  };
  // Takes the entries of `queue` that are `limit` old: gone or moved on are dropped, waiting on
  // us re-queued, the rest handed to `due`.
  auto sweep = [&](std::deque<std::pair<int64_t, uint64_t>>& queue, int64_t limit, auto&& due) {
    std::vector<std::pair<int64_t, uint64_t>> requeue;
    while (!queue.empty() && now - queue.front().first >= limit) {
      auto [started, id] = queue.front();
      queue.pop_front();
      Conn* c = live(id, started);
      if (!c) continue;
      if (waiting_on_us(*c)) requeue.emplace_back(started, id);
      else due(*c, started);
    }
    for (auto& e : requeue) queue.push_back(e);
  };
  sweep(started_, header_limit, [&](Conn& c, int64_t started) {
    if (c.parser.headers_done() && now - started < request_limit) bodies_started_.emplace_back(started, c.id);
    // With request_timeout the shorter, an incomplete header section is its 408 (as before
    // header_timeout existed).
    else time_out(c, !c.parser.headers_done() && header_limit < request_limit);
  });
  sweep(bodies_started_, request_limit, [&](Conn& c, int64_t) { time_out(c, false); });
}

// A keep-alive connection with nothing under way for idle_timeout is closed without an answer
// (RFC 9112 §9.8 lets either side close an idle connection): idle clients cannot pin
// descriptors and memory forever.
void Front::expire_idle_connections() {
  const int64_t now = now_ms();
  if (now < next_idle_check_ms_) return;
  next_idle_check_ms_ = now + 250;
  const int64_t limit = cfg_.idle_timeout.count();
  while (!idle_.empty() && now - idle_.front().first >= limit) {
    const uint64_t id = idle_.front().second;
    idle_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    c.idle_queued = false;
    if (c.closing || !c.idle_since_ms) continue;  // busy now: queued again when next idle
    if (now - c.idle_since_ms < limit) {
      // Idle again since, more recently: waits behind younger entries, so it may close up to
      // one idle_timeout late; the price of one entry per connection rather than per request.
      c.idle_queued = true;
      idle_.emplace_back(c.idle_since_ms, id);
      continue;
    }
    metrics_.limit_hit("idle_timeout");
    close(c);
  }
}

void Front::reap() {
  if (closing_.empty()) return;
  std::size_t kept = 0;
  for (uint64_t id : closing_) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (it->second->pending_ops == 0) conns_.erase(it);
    else closing_[kept++] = id;  // still has an SQE in flight; try again next iteration
  }
  closing_.resize(kept);
  metrics_.set_open_connections(open_connections());
}

void Front::respond(uint64_t conn_id, int status, const std::string& body, bool close_after,
                    std::string_view extra_headers, std::string_view content_type) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;  // the client left; what it submitted is still accepted
  Conn& c = *it->second;
  if (close_after) c.close_after = true;
  c.out += fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}{}\r\n", status,
                       http_status_str(static_cast<http_status>(status)), content_type, body.size(), c.extra_headers,
                       extra_headers, c.close_after ? "Connection: close\r\n" : "");
  c.out += body;
  metrics_.note_conn_output(output_bytes(c));
  flush(c);
}

}  // namespace ringpost::engine
