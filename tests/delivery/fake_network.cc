// See fake_network.h.
#include "tests/delivery/fake_network.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>

namespace ringpost::engine::testing {

std::function<std::unique_ptr<FakeServer>()> SinkServer::factory(const SinkOptions& o, sink::SinkCounters* counters) {
  auto seed = std::make_shared<uint64_t>(0);
  return [&o, counters, seed] { return std::make_unique<SinkServer>(o, counters, ++*seed); };
}

std::string SinkServer::greet() {
  if (options_.greet_421) session_.refuse();
  else session_.greet();
  return take_output();
}

std::string SinkServer::on_bytes(std::string_view in) {
  if (closed_) return {};
  if (in_tls_) {
    // What a broken TLS stack or a middlebox might say to a ClientHello.
    return options_.garbage_tls ? std::string("this is not TLS\r\n") : std::string();
  }
  session_.on_bytes(in);
  return take_output();
}

std::string SinkServer::take_output() {
  std::string out = std::move(session_.output());
  session_.output().clear();
  if (!options_.swallow.empty() || !options_.rewrite.empty()) {
    std::string kept;
    for (std::size_t at = 0; at < out.size();) {
      std::size_t end = out.find("\r\n", at);
      end = end == std::string::npos ? out.size() : end + 2;
      std::string_view line(out.data() + at, end - at);
      at = end;
      if (!options_.swallow.empty() && line.starts_with(options_.swallow)) continue;
      auto r = std::find_if(options_.rewrite.begin(), options_.rewrite.end(),
                            [&](const auto& rw) { return line.starts_with(rw.first); });
      if (r == options_.rewrite.end()) kept.append(line);
      else kept.append(r->second).append("\r\n");
    }
    out = std::move(kept);
  }
  switch (session_.after()) {
    case sink::SinkSession::After::none: break;
    case sink::SinkSession::After::start_tls: in_tls_ = true; break;
    case sink::SinkSession::After::close: closed_ = true; break;
  }
  return out;
}

// One connection's end of the fake network.
class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(FakeNetwork& net) : net_(net) {}
  ~FakeTransport() override { note_closed(); }

  int connect(const Endpoint& ep, Completion& done) override {
    ++net_.connects_[ep.label];
    ++net_.connects_total_;
    auto it = net_.listeners_.find(ep.label);
    if (it == net_.listeners_.end()) {
      net_.post(done, -ECONNREFUSED);
      return 0;
    }
    server_ = it->second();
    to_client_ = server_->greet();
    open_ = true;
    net_.most_open_ = std::max(net_.most_open_, ++net_.open_);
    net_.post(done, 0);
    return 0;
  }

  void recv(std::span<char> into, Completion& done) override {
    parked_ = Parked{into, &done};
    deliver();
  }

  void send(std::string_view bytes, Completion& done) override {
    if (shut_ || !server_ || server_->closed()) return net_.post(done, -EPIPE);
    net_.note_client_bytes(partial_line_, bytes);
    to_client_ += server_->on_bytes(bytes);
    net_.post(done, static_cast<int>(bytes.size()));
    deliver();
  }

  void quick_ack() override {}

  void shutdown() override {
    shut_ = true;
    note_closed();
    deliver();
  }

  // Every operation is already queued to complete: nothing to cut short.
  void cancel(Completion&) override {}

 private:
  struct Parked {
    std::span<char> into;
    Completion* done;
  };

  // A parked recv completes once there is something to say: bytes, the server's close, or
  // our own shutdown.
  void deliver() {
    if (!parked_) return;
    if (!to_client_.empty() && !shut_) {
      const std::size_t n = std::min(parked_->into.size(), to_client_.size());
      std::memcpy(parked_->into.data(), to_client_.data(), n);
      to_client_.erase(0, n);
      net_.post(*parked_->done, static_cast<int>(n));
    } else if (shut_ || (server_ && server_->closed())) {
      net_.post(*parked_->done, 0);
    } else {
      return;
    }
    parked_.reset();
  }

  void note_closed() {
    if (open_) --net_.open_;
    open_ = false;
  }

  FakeNetwork& net_;
  std::unique_ptr<FakeServer> server_;
  std::string to_client_;
  std::string partial_line_;  // sent by the client, not yet ended by LF (FakeNetwork::commands)
  std::optional<Parked> parked_;
  bool shut_ = false;
  bool open_ = false;
};

std::unique_ptr<Transport> FakeNetwork::make_transport() { return std::make_unique<FakeTransport>(*this); }

void FakeNetwork::note_client_bytes(std::string& partial, std::string_view bytes) {
  partial.append(bytes);
  std::size_t at = 0;
  for (std::size_t lf; (lf = partial.find('\n', at)) != std::string::npos; at = lf + 1) {
    std::string verb(std::string_view(partial).substr(at, lf - at));
    verb.resize(std::min(verb.size(), verb.find_first_of(" :\r")));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ++client_lines_[verb];
  }
  partial.erase(0, at);
}

std::size_t FakeNetwork::round() {
  std::size_t n = queue_.size();
  for (std::size_t i = 0; i < n; ++i) {
    Event e = queue_.front();
    queue_.pop_front();
    e.done->on_complete(e.res, 0);
  }
  return n;
}

}  // namespace ringpost::engine::testing
