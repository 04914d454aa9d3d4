// One SMTP connection's byte pipe: connect, receive, send, shut down. SmtpConnection asks this
// of the network and nothing else, so the protocol driver above it runs the same over io_uring
// (RingTransport) and over the in-memory pipes of tests/delivery. Owned by its connection, on
// the shard's thread. Invariant, as with the ring: an operation given a Completion finishes
// through it later, never inside the call, with the byte count (or 0) or -errno.
#pragma once

#include <span>
#include <string_view>

#include "engine/runtime/ring.h"

namespace ringpost::engine {

struct Endpoint;

class Transport {
 public:
  // Closes the socket. The connection frees its transport only when no operation is pending.
  virtual ~Transport() = default;

  // Makes the socket and starts connecting to `ep` (which outlives `done`). Returns 0, or the
  // errno of a socket that could not even be made: then `done` never completes.
  virtual int connect(const Endpoint& ep, Completion& done) = 0;
  virtual void recv(std::span<char> into, Completion& done) = 0;
  // `bytes` stays valid and unchanged until `done` completes.
  virtual void send(std::string_view bytes, Completion& done) = 0;
  // ACK what has arrived now rather than after the delayed-ACK timer (TCP_QUICKACK). Best effort.
  virtual void quick_ack() = 0;
  // Ends both directions: a pending recv then completes (0 or an error), so the socket is
  // closed only once nothing in flight names it.
  virtual void shutdown() = 0;
  // Asks for a pending operation to end early (a connect that shutdown() does not stop); its
  // Completion still completes, with -ECANCELED or its own result.
  virtual void cancel(Completion& op) = 0;
};

}  // namespace ringpost::engine
