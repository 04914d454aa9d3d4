// The production Transport: a TCP socket whose connect, recv and send go through the shard's
// io_uring ring. Owned by one SmtpConnection on the shard's thread; the socket is closed in the
// destructor, which the connection reaches only when no SQE naming it is left.
#pragma once

#include "engine/delivery/transport.h"

namespace ringpost::engine {

class RingTransport final : public Transport {
 public:
  explicit RingTransport(Ring& ring) : ring_(ring) {}
  ~RingTransport() override;
  RingTransport(const RingTransport&) = delete;
  RingTransport& operator=(const RingTransport&) = delete;

  int connect(const Endpoint& ep, Completion& done) override;
  void recv(std::span<char> into, Completion& done) override;
  void send(std::string_view bytes, Completion& done) override;
  void quick_ack() override;
  void shutdown() override;
  void cancel(Completion& op) override;

 private:
  Ring& ring_;
  int fd_ = -1;
};

}  // namespace ringpost::engine
