// A Shard driven on the test's thread (Shard::step, Shard::TestIo): no thread, ring or
// resolver; a clock moved by hand; connections over a FakeNetwork answered by bench/sink's
// sans-IO session. Static routes and address literals only (a domain that needs an MX lookup
// waits in its route entry, counted in counters().dns_lookups).
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/delivery/live_policy.h"
#include "engine/delivery/shard.h"
#include "tests/delivery/fake_host.h"

namespace ringpost::engine::testing {

class ShardTest : public ::testing::Test {
 protected:
  static constexpr int64_t t0 = 1'700'000'000'000;  // mail_to()'s created_at
  FakeNetwork net;
  SinkOptions sink;
  sink::SinkCounters seen;
  std::shared_ptr<Config> cfg = base_config();
  Mailbox<DeliveryEvent> events;
  Mailbox<ShardAnswer> answers;
  std::unique_ptr<PolicyBook> book;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<DeliveryEvent> out;  // every event the shards reported, in order
  std::vector<ShardAnswer> answered;  // every answer to an admin request, in order
  uint64_t admin_requests = 0;
  std::size_t body_reads = 0;
  int64_t clock = 0;  // the last settle()'s time

  // TLS off (the sink's STARTTLS is not a real TLS server), a 10 s / 20 s retry schedule, a
  // 30 s idle timeout, 60 s eviction, nothing blocked (a test that wants it sets it).
  static std::shared_ptr<Config> base_config() {
    auto c = std::make_shared<Config>();
    c->defaults.tls = TlsPolicy::off;
    c->defaults.retry = {std::chrono::seconds(10), std::chrono::seconds(20)};
    c->defaults.idle_timeout = std::chrono::seconds(30);
    c->defaults.site_idle_evict = std::chrono::seconds(60);
    c->delivery.blocked_networks.clear();
    return c;
  }
  // A domain with a static route to host:port (its other limits the defaults').
  void static_route(const std::string& domain, const std::string& host, uint16_t port) {
    DeliveryPolicy p = cfg->defaults;
    p.route = HostPort{host, port};
    cfg->domains[domain] = p;
  }
  void serve(const std::string& label) {
    Endpoint ep;
    ep.label = label;
    net.listen(ep, SinkServer::factory(sink, &seen));
  }
  void serve(const Endpoint& ep) { net.listen(ep, SinkServer::factory(sink, &seen)); }

  // n shards on cfg as it is now, peers of each other when n > 1.
  Shard& make_shards(uint32_t n = 1) {
    book = std::make_unique<PolicyBook>(std::make_shared<const LivePolicy>(LivePolicy{cfg, {}}));
    std::vector<Shard*> peers;
    for (uint32_t i = 0; i < n; ++i) {
      shards.push_back(std::make_unique<Shard>(i, *cfg, events, *book, answers));
      shards.back()->set_test_io(Shard::TestIo{
          [this] { return net.make_transport(); },
          [this](const BodyRef& at, std::span<char> into, Completion& done) {
            ++body_reads;
            const std::string_view body = kBody.substr(at.offset, at.size);
            std::copy(body.begin(), body.end(), into.begin());
            net.post(done, static_cast<int>(body.size()));
          }});
      peers.push_back(shards.back().get());
    }
    if (n > 1)
      for (auto& s : shards) s->set_peers(peers);
    return *shards.front();
  }
  // As the front hands in a job (route null) or a peer a routed one.
  void submit(Shard& s, const std::string& domain, Delivery d, RoutePtr route = nullptr) {
    s.inbox().push(ShardJob{DeliveryJob{std::move(d.msg), domain, std::move(d.recipients), std::move(d.body)},
                            std::move(route)});
  }
  // An operator's change as the admin API makes it (Front::change_override, then ask_shards):
  // `domain`'s override published in a new LivePolicy (an empty one removes it), then a snapshot
  // request to every shard, which takes the change before it answers (Shard::run_commands).
  // Returns the request's id (its answers land in `answered` at the next settle()).
  uint64_t operator_override(const std::string& domain, const DomainOverride& o) {
    auto next = std::make_shared<LivePolicy>(*book->current());
    if (o.empty()) next->overrides.erase(domain);
    else next->overrides[domain] = o;
    book->publish(std::move(next));
    const uint64_t id = ++admin_requests;
    for (auto& s : shards) s->control().push(ShardCommand{id, ShardCommand::Kind::snapshot, domain, {}});
    return id;
  }
  // Moves the clock to t and runs every shard's loop there until no I/O is in flight and
  // nothing is left to hand between shards.
  void settle(int64_t t) {
    ASSERT_GE(t, clock) << "the shard's clock never goes back";
    clock = t;
    int quiet = 0;
    for (int rounds = 0; quiet < 3; ++rounds) {
      ASSERT_LT(rounds, 100'000) << "the shards and the fake network never settle";
      for (auto& s : shards) s->step(t);
      events.drain(out);
      answers.drain(answered);
      if (net.pending()) {
        net.round();
        quiet = 0;
      } else {
        ++quiet;
      }
    }
  }
  // settle() at every tick of the shard's clock (50 ms) after the last one, up to `until`: what
  // runs at any moment in between (a retry, a timeout, a suspension's end) is seen at its tick.
  void settle_every_tick_until(int64_t until) {
    for (int64_t t = clock + 50; t <= until && !::testing::Test::HasFatalFailure(); t += 50) settle(t);
  }
  std::vector<DeliveryEvent> of_state(queue::RecipientState st) const {
    std::vector<DeliveryEvent> r;
    std::copy_if(out.begin(), out.end(), std::back_inserter(r), [&](const DeliveryEvent& e) { return e.state == st; });
    return r;
  }
  std::size_t delivered() const { return of_state(queue::RecipientState::delivered).size(); }
};

}  // namespace ringpost::engine::testing
