// See smtp_connection.h. Every completion ends in after_io(): write what the session queued,
// re-arm the phase deadline, then tell the site, which collects results and hands out
// the next message. Keeping that one exit point means no path can forget to flush or report.
#include "engine/delivery/smtp_connection.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine/delivery/site.h"
#include "engine/tls/session_cache.h"

namespace ringpost::engine {
namespace {

int64_t phase_timeout_ms(const SmtpTimeouts& t, smtp::Phase p) {
  using P = smtp::Phase;
  switch (p) {
    case P::none: return 0;
    case P::greeting: return t.greeting.count();
    case P::mail: return t.mail.count();
    case P::rcpt: return t.rcpt.count();
    case P::data: return t.data.count();
    case P::bdat:
    case P::data_end: return t.data_end.count();
    default: return t.command.count();  // EHLO, HELO, STARTTLS + handshake, RSET, QUIT
  }
}

}  // namespace

SmtpConnection::SmtpConnection(std::unique_ptr<Transport> transport, Site& site, Endpoint endpoint,
                               smtp::SessionConfig cfg, const SmtpTimeouts& t, int64_t idle_ms, TlsProfile tls)
    : transport_(std::move(transport)),
      site_(site),
      endpoint_(std::move(endpoint)),
      session_(std::move(cfg)),
      timeouts_(t),
      idle_ms_(idle_ms),
      tls_profile_(tls) {}

SmtpConnection::~SmtpConnection() = default;  // the transport closes its socket

void SmtpConnection::start(int64_t now) {
  now_ms_ = now;
  if (const int err = transport_->connect(endpoint_, connect_op_); err != 0) {
    failure_ = smtp::Reply{451, "4.4.0", fmt::format("socket(): {}", std::strerror(err))};
    closing_ = true;
    site_.on_connection_event(*this);
    return;
  }
  has_socket_ = true;
  ++pending_ops_;
  deadline_ms_ = now + timeouts_.connect.count();
}

void SmtpConnection::on_connected(int res) {
  if (closing_) return after_io();
  if (res < 0) {
    failure_ = smtp::Reply{451, "4.4.1", fmt::format("connect to {} failed: {}", endpoint_.label, std::strerror(-res))};
    closing_ = true;
    return after_io();
  }
  connected_ = true;
  arm_recv();
  after_io();
}

void SmtpConnection::arm_recv() {
  if (tls_) {
    transport_->recv(tls_->input_buffer(), recv_op_);
  } else {
    transport_->recv(recv_buf_, recv_op_);
  }
  ++pending_ops_;
}

void SmtpConnection::on_received(int res) {
  if (tls_) receive_tls(res);
  else receive_plain(res);
  // While a pipelined group is partly answered (see flush()), TCP_QUICKACK sends the ACK the
  // kernel is holding for the reply just read, so a Nagle server releases the next one. It
  // is not sticky (the kernel drops back to delayed ACKs by itself), hence once per receive.
  // Setting it before the replies arrive as well, when the group is sent, measured no
  // different (bench/servers): it only leaves pingpong mode, and the kernel still delays an
  // ACK outside its quick-ACK budget. Once the group is answered (after DATA's 354 only the
  // data-end reply is owed, and the content we write next carries the ACK) there is nothing
  // to gain, and servers that answer a group in one segment (Postfix, Exim, aiosmtpd,
  // smtp-sink here) cost no call at all.
  if (quick_ack_) {
    if (!closing_ && session_.replies_owed() > 0 && session_.awaiting() != smtp::Phase::data_end)
      transport_->quick_ack();
    else quick_ack_ = false;
  }
  after_io();
}

void SmtpConnection::receive_plain(int res) {
  if (res <= 0) {
    // 0: the server closed; <0: reset or our own shutdown(). Either way the session defers
    // whatever was in flight; nothing is ever marked delivered without the final reply.
    if (!closing_ && !ever_ready_ && failure_.code == 0)
      failure_ = smtp::Reply{451, "4.4.2", fmt::format("{} closed the connection before the session was ready", endpoint_.label)};
    session_.on_closed();
    closing_ = true;
    return;
  }
  session_.on_bytes(std::string_view(recv_buf_, static_cast<std::size_t>(res)));
  if (closing_) return;
  // RFC 3207: after the 220 to STARTTLS the next bytes on the wire are the TLS handshake.
  if (session_.wants_tls()) start_tls();
  else arm_recv();
}

void SmtpConnection::start_tls() {
  tls_cache_key_ = tls::SessionCache::key(endpoint_.host, ntohs(reinterpret_cast<sockaddr_in*>(&endpoint_.addr)->sin_port));
  tls::SessionPtr resume = tls_profile_.sessions ? tls_profile_.sessions->get(tls_cache_key_) : nullptr;
  auto engine = tls_profile_.ctx ? tls::TlsEngine::client(tls_profile_.ctx, endpoint_.host, resume.get())
                                 : tl::make_unexpected(std::string("no TLS context for this destination"));
  if (!engine) {
    tls_handshake_failed_ = true;
    session_.on_tls_failed(engine.error());
    return;
  }
  tls_ = std::move(*engine);
  tls_resumed_ = resume != nullptr;
  drive_handshake();  // queues the ClientHello
  if (!closing_) arm_recv();
}

void SmtpConnection::drive_handshake() {
  switch (tls_->handshake()) {
    case tls::TlsEngine::Status::ok:
      peer_.reset();  // a description made before the handshake would say "plain text"
      capture_tls_session();
      session_.on_tls_ready();  // the session queues EHLO again
      break;
    case tls::TlsEngine::Status::want_io:
      break;
    case tls::TlsEngine::Status::closed:
    case tls::TlsEngine::Status::error: {
      if (tls_resumed_ && tls_profile_.sessions) tls_profile_.sessions->erase(tls_cache_key_);
      tls_handshake_failed_ = true;
      std::string why = tls_->last_error();
      if (why.empty()) why = tls_->peer_verify_result();
      session_.on_tls_failed(why);
      break;
    }
  }
}

void SmtpConnection::capture_tls_session() {
  // TLS 1.3 tickets arrive after the handshake, inside read(); this runs after both.
  if (!tls_profile_.sessions) return;
  if (tls::SessionPtr s = tls_->take_new_session()) tls_profile_.sessions->put(tls_cache_key_, std::move(s));
}

void SmtpConnection::receive_tls(int res) {
  if (res > 0) {
    tls_->commit_input(static_cast<std::size_t>(res));
  } else {
    tls_->commit_input(0);
    tls_->on_peer_eof();
  }
  if (!tls_->handshake_done()) {
    drive_handshake();
    if (res <= 0 && !tls_->handshake_done()) {
      if (session_.wants_tls()) {
        tls_handshake_failed_ = true;
        session_.on_tls_failed("connection closed during the TLS handshake");
      }
      closing_ = true;
    }
  }
  if (tls_->handshake_done()) {
    plain_in_.clear();
    tls::TlsEngine::Status st = tls_->read(plain_in_);
    if (!plain_in_.empty()) session_.on_bytes(plain_in_);
    capture_tls_session();
    if (st == tls::TlsEngine::Status::closed || st == tls::TlsEngine::Status::error || res <= 0) {
      session_.on_closed();
      closing_ = true;
    }
  }
  if (session_.wants_close() && !session_.pending_output().empty()) flush();
  if (!closing_) arm_recv();
}

void SmtpConnection::on_sent(int res) {
  send_in_flight_ = false;
  if (res < 0) {
    session_.on_closed();
    close();
    return after_io();
  }
  if (tls_) {
    tls_->consume_output(static_cast<std::size_t>(res));
  } else {
    send_off_ += static_cast<std::size_t>(res);
    if (send_off_ == send_buf_.size()) {
      send_buf_.clear();
      send_off_ = 0;
    }
  }
  after_io();
}

void SmtpConnection::flush() {
  if (closing_ || send_in_flight_ || !connected_) return;
  if (tls_) flush_tls();
  else flush_plain();
  // A pipelined group (MAIL, RCPT..., DATA or BDAT) is answered by several replies. A server
  // that writes them one by one with Nagle on (Haraka: Node's sockets default to it) holds
  // back the second until we ACK the first, and we have nothing to send that could carry the
  // ACK before the group is answered, so the delayed-ACK timer (~40 ms) stalled every
  // transaction: ~45 ms against Haraka, ~1 ms with quick ACKs (bench/servers, issue 20).
  // A lone reply (data end, QUIT) cannot be held back that way and keeps the delayed ACK,
  // which the next command carries. on_received() does the work.
  if (send_in_flight_ && session_.replies_owed() > 1) quick_ack_ = true;
}

void SmtpConnection::flush_plain() {
  if (send_off_ == send_buf_.size()) {
    std::string_view out = session_.pending_output();
    if (out.empty()) return;
    // Copy out of the session: it may append more while the kernel still reads this buffer.
    send_buf_.assign(out);
    send_off_ = 0;
    session_.consume_output(out.size());
  }
  transport_->send(std::string_view(send_buf_).substr(send_off_), send_op_);
  ++pending_ops_;
  send_in_flight_ = true;
}

void SmtpConnection::flush_tls() {
  if (tls_->handshake_done()) {
    std::string_view plain = session_.pending_output();
    if (!plain.empty()) {
      std::size_t written = 0;
      tls::TlsEngine::Status st = tls_->write(plain, written);
      session_.consume_output(written);
      if (st == tls::TlsEngine::Status::error || st == tls::TlsEngine::Status::closed) {
        session_.on_closed();
        close();
        return;
      }
    }
  }
  // An orderly end (QUIT answered, idle close) says close_notify, so the peer keeps our
  // session resumable.
  if (session_.wants_close() && session_.pending_output().empty() && tls_->handshake_done() && !tls_shutdown_sent_) {
    tls_->shutdown();
    tls_shutdown_sent_ = true;
  }
  // The engine keeps this chunk's address and bytes fixed until consume_output().
  std::string_view cipher = tls_->peek_output();
  if (cipher.empty()) return;
  transport_->send(cipher, send_op_);
  ++pending_ops_;
  send_in_flight_ = true;
}

void SmtpConnection::update_deadline() {
  if (closing_ || !connected_) return;  // the connect deadline was set in start()
  if (send_in_flight_) {
    // RFC 5321 §4.5.3.2.5: each write of the content must make progress within the data
    // block time; small commands finish long before it matters.
    deadline_ms_ = now_ms_ + timeouts_.data_block.count();
    return;
  }
  smtp::Phase p = session_.awaiting();
  if (p == smtp::Phase::none) return;  // idle: the site calls mark_idle()
  deadline_ms_ = now_ms_ + phase_timeout_ms(timeouts_, p);
}

void SmtpConnection::after_io() {
  // The shard's time for this completion: deadlines armed below count from it. (tick() used to
  // refresh now_ms_ every 50 ms; a connection is now ticked only when its deadline is due, so
  // without this a reply's deadline would count from the last command sent.)
  now_ms_ = site_.now();
  if (session_.ready()) ever_ready_ = true;
  flush();
  bool output_drained = session_.pending_output().empty() && !send_in_flight_ &&
                        (tls_ ? tls_->output_pending() == 0 : send_off_ == send_buf_.size());
  if (session_.wants_close() && !closing_ && output_drained) close();
  if (!closing_ && !session_.wants_close() && (session_.state() == smtp::SessionState::failed))
    close();
  update_deadline();
  site_.on_connection_event(*this);
}

void SmtpConnection::send(Delivery d, int64_t now) {
  now_ms_ = now;
  smtp::Envelope env;
  env.from = d.msg->from;
  env.body = d.body;
  env.recipients.reserve(d.recipients.size());
  for (const RecipientRef& r : d.recipients) env.recipients.push_back(d.msg->recipients[r.index]);
  current_ = std::move(d);
  current_started_ms_ = now;
  ++transactions_;
  session_.submit(std::move(env));
  flush();
  update_deadline();
}

AttemptTrace SmtpConnection::trace() {
  if (!peer_) peer_ = make_attempt_peer(endpoint_.addr, endpoint_.host, tls_ ? tls_.get() : nullptr, tls_fallback_);
  return AttemptTrace{peer_, current_started_ms_};
}

void SmtpConnection::quit(int64_t now) {
  now_ms_ = now;
  session_.quit();
  flush();
  update_deadline();
  if (session_.wants_close() && session_.pending_output().empty() && !send_in_flight_) close();
}

void SmtpConnection::tick(int64_t now) {
  now_ms_ = now;
  if (closing_) return;
  if (deadline_ms_ && now >= deadline_ms_) {
    if (!connected_) failure_ = smtp::Reply{451, "4.4.1", fmt::format("connect to {} timed out", endpoint_.label)};
    if (send_in_flight_) session_.on_send_timeout();
    else session_.on_timeout();
    close();
    site_.on_connection_event(*this);
    return;
  }
  if (ready() && !deadline_ms_ && now - idle_since_ms_ >= idle_ms_) quit(now);
}

void SmtpConnection::close() {
  if (closing_ && !has_socket_) return;
  closing_ = true;
  // Shut down rather than close: our pending recv/connect complete with an error, and only
  // then, with nothing in flight that names the socket, is it closed (the transport's end).
  if (has_socket_) transport_->shutdown();
  if (pending_ops_ > 0 && !connected_) transport_->cancel(connect_op_);
}

}  // namespace ringpost::engine
