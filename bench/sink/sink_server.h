// The io_uring driver of `ringpost sink`: one thread, one engine::Ring, a multishot accept and
// per connection one recv, at most one send and at most one latency timer in flight, each
// feeding or draining a SinkSession. Everything is owned by the thread that calls run().
// Invariant: a Conn is freed only when its pending-op count is zero (its Completions are the
// SQEs' user_data), after shutdown() has made the kernel complete the recv.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include <tl/expected.hpp>

#include "bench/sink/sink_options.h"
#include "engine/runtime/ring.h"
#include "engine/tls/ssl_ptr.h"

namespace ringpost::sink {

struct Conn;

// One interval's counts, for the progress line and the series file.
struct Tick {
  double t_s = 0;              // seconds since run() started, at the end of the interval
  int64_t unix_ms = 0;         // wall clock at the end of the interval
  double interval_s = 0;
  uint64_t messages = 0;       // accepted in the interval
  uint64_t connections = 0;    // accepted (not refused) in the interval
  uint64_t open = 0;           // open at the end
  uint64_t messages_total = 0;
};

struct Totals {
  SinkCounters smtp;
  uint64_t connections = 0;
  uint64_t connections_refused = 0;
  uint64_t max_open = 0;
  double seconds = 0;                // run() start to stop
  int64_t start_unix_ms = 0;
  int64_t first_message_unix_ms = 0;  // 0 = none; resolution: one loop iteration
  int64_t last_message_unix_ms = 0;
};

class SinkServer {
 public:
  explicit SinkServer(const SinkOptions& opts);
  ~SinkServer();
  SinkServer(const SinkServer&) = delete;
  SinkServer& operator=(const SinkServer&) = delete;

  tl::expected<void, std::string> listen();  // binds; also loads the TLS certificate if given
  uint16_t port() const { return port_; }
  // Serves until stop_fd (a signalfd, or -1) is readable, --duration or --messages is reached.
  void run(int stop_fd, const std::function<void(const Tick&)>& on_tick);
  const Totals& totals() const { return totals_; }

  // Called by the connections' completions.
  void on_accept(int res, uint32_t flags);
  void on_recv(Conn& c, int res);
  void on_send(Conn& c, int res);
  void on_timer(Conn& c);
  void on_stop_signal() { stop_ = true; }

 private:
  void arm_accept();
  void arm_recv(Conn& c);
  void flush(Conn& c);
  // Replies the session wrote, into the next send (through TLS once it is up).
  void queue_output(Conn& c, std::string& out);
  void start_send(Conn& c);
  void after_input(Conn& c);
  void close_conn(Conn& c);
  void release(Conn& c);  // one op completed; frees the Conn when closed and idle
  bool output_idle() const;

  SinkOptions opts_;
  engine::Ring ring_;
  tls::SslCtxPtr tls_ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  bool stop_ = false;
  uint64_t next_id_ = 0;
  std::unordered_set<Conn*> conns_;
  Totals totals_;
  uint64_t open_ = 0;
  struct AcceptOp;
  struct SignalOp;
  std::unique_ptr<AcceptOp> accept_op_;
  std::unique_ptr<SignalOp> signal_op_;
};

}  // namespace ringpost::sink
