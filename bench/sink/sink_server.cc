// See sink_server.h. The loop shape is liburing's examples: submit and wait once per
// iteration, dispatch every CQE, then look at the clock once for ticks and limits.
#include "bench/sink/sink_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bench/sink/server_tls.h"
#include "bench/sink/sink_session.h"
#include "engine/config/config.h"

namespace ringpost::sink {
namespace {

// One recv's worth. Small enough that thousands of connections stay cheap; a 10 KiB message
// still arrives in one or two recvs.
constexpr std::size_t kRecvBuffer = 16 * 1024;
// How long clients get to finish (QUIT) once a limit stopped the run, and then how long the
// replies already owed may take to leave: the last message's 250 must reach its client, or the
// client records a failure the sink did count.
constexpr auto kDrainLimit = std::chrono::seconds(1);

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Conn {
  struct Op final : engine::Completion {
    enum Kind { recv, send, timer };
    Op(Conn* c, Kind k) : conn(c), kind(k) {}
    Conn* conn;
    Kind kind;
    void on_complete(int res, uint32_t) override {
      SinkServer& s = *conn->server;
      if (kind == recv) s.on_recv(*conn, res);
      else if (kind == send) s.on_send(*conn, res);
      else s.on_timer(*conn);
    }
  };

  Conn(SinkServer* s, int f, const SinkConfig& cfg, SinkCounters* counters, uint64_t id)
      : server(s), fd(f), session(cfg, counters, id), rbuf(new char[kRecvBuffer]) {}

  SinkServer* server;
  int fd;
  SinkSession session;
  std::unique_ptr<ServerTls> tls;
  std::unique_ptr<char[]> rbuf;
  std::string wbuf;   // the send in flight points into it: never touched until it completes
  std::size_t woff = 0;
  std::string wnext;  // encoded output waiting for that send
  std::string plain;  // TLS plaintext scratch
  Op recv_op{this, Op::recv};
  Op send_op{this, Op::send};
  Op timer_op{this, Op::timer};
  __kernel_timespec delay{};  // the timer SQE reads it until its CQE
  int pending = 0;
  bool sending = false;
  bool timing = false;
  bool closing = false;
  bool close_after_flush = false;
};

struct SinkServer::AcceptOp final : engine::Completion {
  explicit AcceptOp(SinkServer* s) : server(s) {}
  SinkServer* server;
  void on_complete(int res, uint32_t flags) override { server->on_accept(res, flags); }
};

struct SinkServer::SignalOp final : engine::Completion {
  explicit SignalOp(SinkServer* s) : server(s) {}
  SinkServer* server;
  signalfd_siginfo info{};
  void on_complete(int, uint32_t) override { server->on_stop_signal(); }
};

SinkServer::SinkServer(const SinkOptions& opts)
    : opts_(opts), accept_op_(std::make_unique<AcceptOp>(this)), signal_op_(std::make_unique<SignalOp>(this)) {
  opts_.smtp.starttls = !opts_.tls_cert.empty() && !opts_.tls_key.empty();
}

SinkServer::~SinkServer() {
  // The process is ending the run: close the sockets; the ring's teardown drops pending SQEs
  // without dispatching them, so freeing the Conns here is safe.
  for (Conn* c : conns_) {
    ::close(c->fd);
    delete c;
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

tl::expected<void, std::string> SinkServer::listen() {
  if (opts_.smtp.starttls) {
    auto ctx = make_server_context(opts_.tls_cert, opts_.tls_key);
    if (!ctx) return tl::make_unexpected(ctx.error());
    tls_ctx_ = std::move(*ctx);
  }
  auto hp = engine::parse_host_port(opts_.listen);
  if (!hp) return tl::make_unexpected("--listen: " + hp.error());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp->port);
  if (inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr) != 1)
    return tl::make_unexpected("--listen: IPv4 address expected: " + hp->host);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(listen_fd_, 4096) < 0)
    return tl::make_unexpected(fmt::format("listen on {}: {}", opts_.listen, std::strerror(errno)));
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  return {};
}

void SinkServer::arm_accept() {
  io_uring_prep_multishot_accept(ring_.sqe(accept_op_.get()), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
}

void SinkServer::on_accept(int res, uint32_t flags) {
  // Multishot accept ends on errors (and when the kernel drops it); re-arm unless stopping.
  if (!(flags & IORING_CQE_F_MORE) && !stop_) arm_accept();
  if (res < 0) return;  // EMFILE, ECONNABORTED...: nothing to clean up, the next one may work
  int one = 1;
  // Replies are small and a pipelining client waits for them: Nagle would hold the second
  // burst until the first is ACKed, a delayed-ACK stall per transaction.
  ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto* c = new Conn(this, res, opts_.smtp, &totals_.smtp, ++next_id_);
  conns_.insert(c);
  bool refuse = opts_.max_connections && open_ >= opts_.max_connections;
  ++open_;
  if (refuse) {
    ++totals_.connections_refused;
    c->session.refuse();
    c->close_after_flush = true;
  } else {
    ++totals_.connections;
    totals_.max_open = std::max(totals_.max_open, open_);
    c->session.greet();
    arm_recv(*c);
  }
  flush(*c);
}

void SinkServer::arm_recv(Conn& c) {
  io_uring_prep_recv(ring_.sqe(&c.recv_op), c.fd, c.rbuf.get(), kRecvBuffer, 0);
  ++c.pending;
}

void SinkServer::on_recv(Conn& c, int res) {
  --c.pending;
  if (c.closing) return release(c);
  if (res <= 0) return close_conn(c);  // EOF or reset: the client is gone
  std::string_view data(c.rbuf.get(), static_cast<std::size_t>(res));
  if (!c.tls) {
    c.session.on_bytes(data);
  } else {
    c.tls->feed(data);
    if (!c.tls->handshake_done()) {
      ServerTls::Status st = c.tls->handshake();
      c.tls->take_output(c.wnext);  // handshake messages, or the alert of a failed one
      if (st == ServerTls::Status::error) {
        c.close_after_flush = true;
        return start_send(c);
      }
      if (st == ServerTls::Status::ok) c.session.on_tls_started();
    }
    if (c.tls->handshake_done()) {
      c.plain.clear();
      ServerTls::Status st = c.tls->read(c.plain);
      c.session.on_bytes(c.plain);
      if (st == ServerTls::Status::error || st == ServerTls::Status::closed) c.close_after_flush = true;
    }
  }
  after_input(c);
  if (!c.close_after_flush && !c.closing) arm_recv(c);
}

void SinkServer::after_input(Conn& c) {
  if (c.session.after() == SinkSession::After::start_tls && !c.tls) {
    // The 220 must leave in clear text, ahead of any TLS byte and without the latency timer:
    // the client sends its ClientHello only after reading it.
    c.wnext += c.session.output();
    c.session.output().clear();
    c.session.take_reply_count();
    c.tls = std::make_unique<ServerTls>(tls_ctx_.get());
  } else if (c.session.after() == SinkSession::After::close) {
    c.close_after_flush = true;
  }
  flush(c);
}

void SinkServer::flush(Conn& c) {
  if (c.timing || c.closing) return;  // the timer's completion flushes
  std::string& out = c.session.output();
  if (!out.empty()) {
    std::size_t replies = c.session.take_reply_count();
    if (opts_.latency_ms && replies) {
      // Replies to pipelined commands wait together, as the sum of their latencies: the same
      // total a server that answers them one by one would take.
      uint64_t ms = uint64_t{opts_.latency_ms} * replies;
      c.delay.tv_sec = static_cast<long long>(ms / 1000);
      c.delay.tv_nsec = static_cast<long long>(ms % 1000) * 1000000;
      io_uring_prep_timeout(ring_.sqe(&c.timer_op), &c.delay, 0, 0);
      ++c.pending;
      c.timing = true;
      return;
    }
    queue_output(c, out);
  }
  start_send(c);
}

void SinkServer::on_timer(Conn& c) {
  --c.pending;
  c.timing = false;
  if (c.closing) return release(c);
  // Replies that joined during the wait ride along; their count is dropped with them.
  c.session.take_reply_count();
  queue_output(c, c.session.output());
  start_send(c);
}

void SinkServer::queue_output(Conn& c, std::string& out) {
  // Once TLS is up every reply goes through it; before that (and for the 220 to STARTTLS) in clear.
  if (c.tls && c.tls->handshake_done()) {
    c.tls->write(out);
    c.tls->take_output(c.wnext);
  } else {
    c.wnext += out;
  }
  out.clear();
}

void SinkServer::start_send(Conn& c) {
  if (c.sending || c.closing) return;
  if (c.wbuf.empty() && !c.wnext.empty()) {
    c.wbuf.swap(c.wnext);
    c.woff = 0;
  }
  if (c.wbuf.empty()) {
    if (c.close_after_flush && !c.timing && c.session.output().empty()) close_conn(c);
    return;
  }
  io_uring_prep_send(ring_.sqe(&c.send_op), c.fd, c.wbuf.data() + c.woff, c.wbuf.size() - c.woff, MSG_NOSIGNAL);
  ++c.pending;
  c.sending = true;
}

void SinkServer::on_send(Conn& c, int res) {
  --c.pending;
  c.sending = false;
  if (c.closing) return release(c);
  if (res < 0) return close_conn(c);  // EPIPE / ECONNRESET: the client left
  c.woff += static_cast<std::size_t>(res);
  if (c.woff >= c.wbuf.size()) {
    c.wbuf.clear();
    c.woff = 0;
  }
  start_send(c);
}

void SinkServer::close_conn(Conn& c) {
  if (c.closing) return;
  c.closing = true;
  --open_;
  // shutdown, not close: the kernel completes the pending recv (with 0) and send, and only
  // then is the fd closed and the Conn freed (release()).
  ::shutdown(c.fd, SHUT_RDWR);
  release(c);
}

void SinkServer::release(Conn& c) {
  if (!c.closing || c.pending > 0) return;
  ::close(c.fd);
  conns_.erase(&c);
  delete &c;
}

bool SinkServer::output_idle() const {
  for (const Conn* c : conns_) {
    if (c->closing) continue;
    if (c->sending || c->timing || !c->wbuf.empty() || !c->wnext.empty()) return false;
  }
  return true;
}

void SinkServer::run(int stop_fd, const std::function<void(const Tick&)>& on_tick) {
  using Clock = std::chrono::steady_clock;
  arm_accept();
  if (stop_fd >= 0) io_uring_prep_read(ring_.sqe(signal_op_.get()), stop_fd, &signal_op_->info, sizeof signal_op_->info, 0);
  const auto start = Clock::now();
  totals_.start_unix_ms = unix_ms_now();
  const auto interval = std::chrono::milliseconds(std::max<uint32_t>(opts_.interval_ms, 10));
  auto next_tick = start + interval;
  auto last_tick = start;
  Tick prev;  // totals at the previous tick
  uint64_t prev_conns = 0;
  uint64_t seen_messages = 0;
  bool draining = false;
  Clock::time_point drain_until{};

  auto emit = [&](Clock::time_point now) {
    Tick t;
    t.t_s = std::chrono::duration<double>(now - start).count();
    t.unix_ms = unix_ms_now();
    t.interval_s = std::chrono::duration<double>(now - last_tick).count();
    t.messages = totals_.smtp.messages - prev.messages_total;
    t.connections = totals_.connections - prev_conns;
    t.open = open_;
    t.messages_total = totals_.smtp.messages;
    prev = t;
    prev_conns = totals_.connections;
    last_tick = now;
    if (on_tick) on_tick(t);
  };

  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()).count();
    ring_.run_once(static_cast<int>(std::clamp<int64_t>(wait, 1, 1000)));
    auto now = Clock::now();
    if (totals_.smtp.messages != seen_messages) {
      seen_messages = totals_.smtp.messages;
      int64_t wall = unix_ms_now();
      if (!totals_.first_message_unix_ms) totals_.first_message_unix_ms = wall;
      totals_.last_message_unix_ms = wall;
    }
    if (now >= next_tick) {
      emit(now);
      while (next_tick <= now) next_tick += interval;
    }
    if (!draining) {
      bool limit = (opts_.max_messages && totals_.smtp.messages >= opts_.max_messages) ||
                   (opts_.duration_s > 0 && now - start >= std::chrono::duration<double>(opts_.duration_s));
      if (stop_ || limit) {
        draining = true;
        drain_until = now + kDrainLimit;
        totals_.seconds = std::chrono::duration<double>(now - start).count();
        if (totals_.smtp.messages != prev.messages_total) emit(now);  // the last partial interval
      }
    }
    // Clients that finish with QUIT (smtp-source) get their 221; clients that keep idle
    // connections (ringpost) are cut once every reply has left, or at the hard limit.
    if (draining && (open_ == 0 || (now >= drain_until && output_idle()) || now >= drain_until + kDrainLimit)) break;
  }
}

}  // namespace ringpost::sink
