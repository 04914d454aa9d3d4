// In-memory transports for Site and SmtpConnection tests: a connection's operations complete
// through a queue that round() empties one batch at a time, as a ring's run_once dispatches
// the CQEs that are there (those queued meanwhile wait for the next round). No socket, thread
// or clock. The far end of each connection is a FakeServer: bench/sink's sans-IO session
// (SinkServer), optionally with replies held back or a garbage TLS handshake.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/sink/sink_session.h"
#include "engine/delivery/smtp_connection.h"
#include "engine/delivery/transport.h"

namespace ringpost::engine::testing {

// The server side of one connection: bytes in, bytes out.
class FakeServer {
 public:
  virtual ~FakeServer() = default;
  virtual std::string greet() = 0;
  virtual std::string on_bytes(std::string_view in) = 0;
  // True once it has closed its side (after its last output is read, recv sees 0).
  virtual bool closed() const = 0;
};

// bench/sink's session behind a fake socket. Its options are shared by every connection made
// from one SinkServer::factory, and so are the counters (what the far side saw).
struct SinkOptions {
  sink::SinkConfig config;
  bool greet_421 = false;  // refuse every connection with a 421 greeting
  // Reply lines starting with this are never sent (a server that goes silent at that point).
  std::string swallow;
  // After its 220 to STARTTLS, answer the ClientHello with bytes that are not TLS.
  bool garbage_tls = false;
  // Reply lines starting with `first` are sent as `second` (CRLF added) instead: another
  // server's code or wording for a reply the sink gives, e.g. its injected "554 5.6.0" after
  // the final dot turned into a "552 5.3.4". Looked at in order, after `swallow`.
  std::vector<std::pair<std::string, std::string>> rewrite;
};

class SinkServer final : public FakeServer {
 public:
  SinkServer(const SinkOptions& o, sink::SinkCounters* counters, uint64_t seed)
      : options_(o), session_(options_.config, counters, seed) {}
  static std::function<std::unique_ptr<FakeServer>()> factory(const SinkOptions& o, sink::SinkCounters* counters);

  std::string greet() override;
  std::string on_bytes(std::string_view in) override;
  bool closed() const override { return closed_; }

 private:
  std::string take_output();

  const SinkOptions& options_;
  sink::SinkSession session_;
  bool in_tls_ = false;
  bool closed_ = false;
};

class FakeNetwork {
 public:
  using ServerFactory = std::function<std::unique_ptr<FakeServer>()>;

  // Connections to `ep` reach a server made by `f`; to an endpoint nobody listens on, they are
  // refused (ECONNREFUSED).
  void listen(const Endpoint& ep, ServerFactory f) { listeners_[ep.label] = std::move(f); }
  std::unique_ptr<Transport> make_transport();

  // Queues `done` to complete with `res` in a later round.
  void post(Completion& done, int res) { queue_.push_back({&done, res}); }
  // Completes what was queued before the call; returns how many.
  std::size_t round();
  bool pending() const { return !queue_.empty(); }

  int connects(const std::string& label) const {
    auto it = connects_.find(label);
    return it == connects_.end() ? 0 : it->second;
  }
  int connects_total() const { return connects_total_; }
  // Lines the clients sent that a server took, by their first word (upper-cased, up to a
  // space, colon or CR): commands("MAIL") counts MAIL FROM commands over every connection,
  // whatever the server answered. Body lines are counted too, under their own first words;
  // kBody starts none with an SMTP verb.
  int commands(const std::string& verb) const {
    auto it = client_lines_.find(verb);
    return it == client_lines_.end() ? 0 : it->second;
  }
  int open_transports() const { return open_; }
  int most_open_at_once() const { return most_open_; }

 private:
  friend class FakeTransport;
  // Counts the complete lines of `bytes` (a connection's partial line is carried in `partial`).
  void note_client_bytes(std::string& partial, std::string_view bytes);

  struct Event {
    Completion* done;
    int res;
  };
  std::map<std::string, ServerFactory> listeners_;
  std::deque<Event> queue_;
  std::map<std::string, int> connects_;
  std::map<std::string, int> client_lines_;
  int connects_total_ = 0;
  int open_ = 0, most_open_ = 0;  // connected transports not yet shut down
};

}  // namespace ringpost::engine::testing
