// See ring_transport.h. These are the calls SmtpConnection made itself before the Transport
// seam, unchanged: one SQE per operation, completions through the ring's dispatch.
#include "engine/delivery/ring_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "engine/delivery/smtp_connection.h"

namespace ringpost::engine {

RingTransport::~RingTransport() {
  if (fd_ >= 0) ::close(fd_);
}

int RingTransport::connect(const Endpoint& ep, Completion& done) {
  fd_ = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return errno;
  int one = 1;
  // SMTP is request/response with small commands: Nagle would add a delayed-ACK round trip
  // to every pipelined group.
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  io_uring_prep_connect(ring_.sqe(&done), fd_, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len);
  return 0;
}

void RingTransport::recv(std::span<char> into, Completion& done) {
  io_uring_prep_recv(ring_.sqe(&done), fd_, into.data(), into.size(), 0);
}

void RingTransport::send(std::string_view bytes, Completion& done) {
  io_uring_prep_send(ring_.sqe(&done), fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

void RingTransport::quick_ack() {
  int one = 1;
  // Best effort: a failure only costs the stall this avoids, so it is not worth a branch.
  ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

void RingTransport::shutdown() {
  // shutdown() rather than close(): the kernel completes our pending recv/connect with an
  // error, and only then, with no SQE left that names the fd, is it closed (the destructor).
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void RingTransport::cancel(Completion& op) { io_uring_prep_cancel(ring_.sqe_ignored(), &op, 0); }

}  // namespace ringpost::engine
