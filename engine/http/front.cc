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
}

void Front::on_accept(int res, uint32_t flags) {
  // Multishot accept stops on errors (and when the kernel drops it): re-arm whenever the
  // kernel says no more CQEs will come from this SQE.
  if (!(flags & IORING_CQE_F_MORE)) arm_accept();
  if (res < 0) {
    if (res != -ECANCELED) spdlog::warn("accept: {}", std::strerror(-res));
    return;
  }
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
  io_uring_prep_recv(ring_->sqe(&c.recv_op), c.fd, c.buf, sizeof c.buf, 0);
  ++c.pending_ops;
}

void Front::on_recv(Conn& c, int res) {
  if (res <= 0 || c.closing) {
    close(c);
    return;
  }
  ++work_;
  c.in.append(c.buf, static_cast<std::size_t>(res));
  if (!c.request_started_ms) note_request_started(c, now_ms());
  process(c);
  if (!c.closing) {
    io_uring_prep_recv(ring_->sqe(&c.recv_op), c.fd, c.buf, sizeof c.buf, 0);
    ++c.pending_ops;
  }
}

void Front::process(Conn& c) {
  while (!c.busy && !c.close_after && !c.in.empty()) {
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
}

void Front::flush(Conn& c) {
  if (c.closing || c.send_in_flight) return;
  if (c.sent == c.sending.size()) {
    if (c.out.empty()) {
      if (c.close_after && !c.busy) close(c);
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

void Front::expire_slow_requests() {
  const int64_t now = now_ms();
  if (now < next_slow_check_ms_) return;
  next_slow_check_ms_ = now + 250;
  const int64_t limit = cfg_.request_timeout.count();
  // started_ is in time order except for re-queued busy entries (below), which only wait behind
  // younger ones: at most one request_timeout later than their due time.
  std::vector<std::pair<int64_t, uint64_t>> still_busy;
  while (!started_.empty() && now - started_.front().first >= limit) {
    auto [started, id] = started_.front();
    started_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    if (c.request_started_ms != started || c.closing || c.close_after) continue;  // moved on
    // A connection waiting on us (spool, signing, long poll) is not the client being slow.
    if (c.busy) {
      still_busy.emplace_back(started, id);
      continue;
    }
    c.request_started_ms = 0;
    respond(id, 408, R"({"error":{"code":"request_timeout","message":"the request was not complete in time"}})", true);
  }
  for (auto& e : still_busy) started_.push_back(e);
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
  flush(c);
}

}  // namespace ringpost::engine
