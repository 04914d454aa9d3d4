// See smtp_connection.h. Every completion ends in after_io(): write what the session queued,
// then tell the destination, which collects results and hands out the next message. Keeping
// that one exit point means no path can forget to flush or to report.
#include "engine/smtp_connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine/destination.h"

namespace ringpost::engine {

SmtpConnection::SmtpConnection(Ring& ring, Destination& dest, Endpoint endpoint, smtp::SessionConfig cfg,
                               Timeouts t)
    : ring_(ring), dest_(dest), endpoint_(std::move(endpoint)), session_(std::move(cfg)), timeouts_(t) {}

SmtpConnection::~SmtpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void SmtpConnection::start(int64_t now) {
  now_ms_ = now;
  fd_ = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    failure_ = smtp::Reply{451, "4.4.0", fmt::format("socket(): {}", std::strerror(errno))};
    closing_ = true;
    dest_.on_connection_event(*this);
    return;
  }
  int one = 1;
  // SMTP is request/response with small commands: Nagle would add a delayed-ACK round trip
  // to every pipelined group.
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  io_uring_prep_connect(ring_.sqe(&connect_op_), fd_, reinterpret_cast<sockaddr*>(&endpoint_.addr), endpoint_.len);
  ++pending_ops_;
  deadline_ms_ = now + timeouts_.connect_ms;
}

void SmtpConnection::on_connected(int res) {
  if (closing_) return after_io();
  if (res < 0) {
    failure_ = smtp::Reply{451, "4.4.1", fmt::format("connect to {} failed: {}", endpoint_.label, std::strerror(-res))};
    closing_ = true;
    return after_io();
  }
  connected_ = true;
  deadline_ms_ = now_ms_ + timeouts_.command_ms;  // the greeting
  arm_recv();
  after_io();
}

void SmtpConnection::arm_recv() {
  io_uring_prep_recv(ring_.sqe(&recv_op_), fd_, recv_buf_, sizeof recv_buf_, 0);
  ++pending_ops_;
}

void SmtpConnection::on_received(int res) {
  if (res <= 0) {
    // 0: the server closed; <0: reset or our own shutdown(). Either way the session defers
    // whatever was in flight; nothing is ever marked delivered without the final reply.
    if (!closing_ && !ever_ready_ && failure_.code == 0)
      failure_ = smtp::Reply{451, "4.4.2", fmt::format("connection to {} closed before the greeting", endpoint_.label)};
    session_.on_closed();
    closing_ = true;
    return after_io();
  }
  session_.on_bytes(std::string_view(recv_buf_, static_cast<std::size_t>(res)));
  if (!closing_) arm_recv();
  after_io();
}

void SmtpConnection::on_sent(int res) {
  send_in_flight_ = false;
  if (res < 0) {
    session_.on_closed();
    close();
    return after_io();
  }
  send_off_ += static_cast<std::size_t>(res);
  if (send_off_ == send_buf_.size()) {
    send_buf_.clear();
    send_off_ = 0;
  }
  after_io();
}

void SmtpConnection::flush() {
  if (closing_ || send_in_flight_ || !connected_) return;
  if (send_off_ == send_buf_.size()) {
    std::string_view out = session_.pending_output();
    if (out.empty()) return;
    // Copy out of the session: it may append more while the kernel still reads this buffer.
    send_buf_.assign(out);
    send_off_ = 0;
    session_.consume_output(out.size());
  }
  io_uring_prep_send(ring_.sqe(&send_op_), fd_, send_buf_.data() + send_off_, send_buf_.size() - send_off_,
                     MSG_NOSIGNAL);
  ++pending_ops_;
  send_in_flight_ = true;
  deadline_ms_ = now_ms_ + timeouts_.command_ms;
}

void SmtpConnection::after_io() {
  if (session_.ready()) ever_ready_ = true;
  if (session_.wants_close() && !closing_ && send_off_ == send_buf_.size() && session_.pending_output().empty())
    close();
  flush();
  dest_.on_connection_event(*this);
}

void SmtpConnection::send(Delivery d, int64_t now) {
  now_ms_ = now;
  smtp::Envelope env;
  env.from = d.msg->from;
  env.body = d.msg->body;
  env.recipients.reserve(d.recipients.size());
  for (const RecipientRef& r : d.recipients) env.recipients.push_back(d.msg->recipients[r.index]);
  current_ = std::move(d);
  ++transactions_;
  session_.submit(std::move(env));
  deadline_ms_ = now + timeouts_.command_ms;
  flush();
}

void SmtpConnection::quit(int64_t now) {
  now_ms_ = now;
  session_.quit();
  deadline_ms_ = now + timeouts_.command_ms;
  flush();
  if (session_.wants_close() && session_.pending_output().empty()) close();
}

void SmtpConnection::tick(int64_t now) {
  now_ms_ = now;
  if (closing_) return;
  if (deadline_ms_ && now >= deadline_ms_) {
    if (!connected_)
      failure_ = smtp::Reply{451, "4.4.1", fmt::format("connect to {} timed out", endpoint_.label)};
    session_.on_timeout();
    close();
    dest_.on_connection_event(*this);
    return;
  }
  if (ready() && now - idle_since_ms_ >= timeouts_.idle_ms) quit(now);
}

void SmtpConnection::close() {
  if (closing_ && fd_ < 0) return;
  closing_ = true;
  // shutdown() rather than close(): the kernel completes our pending recv/connect with an
  // error, and only then, with no SQE left that names the fd, do we close it.
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  if (pending_ops_ > 0 && !connected_) {
    io_uring_prep_cancel(ring_.sqe_ignored(), &connect_op_, 0);
  }
}

}  // namespace ringpost::engine
