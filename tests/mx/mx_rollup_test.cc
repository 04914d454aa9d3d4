// MX rollup: domains whose MX host sets are equal share one site, so one connection pool and
// one max_connections. Counted from the far side: the sinks reply slowly (smtp-sink -w 1) so
// connections stay busy, and the kernel's socket table is sampled for established connections
// to the MX hosts while the mail drains. A domain with a different MX set is a site of its own.
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

class MxRollup : public MxTest {};

// Samples established connections to the given ip:port endpoints (summed) every few ms on a
// thread of its own, keeping the maximum, until destroyed.
class ConnectionSampler {
 public:
  ConnectionSampler(uint16_t port, std::vector<std::string> ips) : port_(port), ips_(std::move(ips)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        int n = 0;
        for (const auto& ip : ips_) n += it::established_connections_to(port_, ip);
        int seen = max_.load();
        if (n > seen) max_.store(n);
        ++samples_;
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~ConnectionSampler() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int max() const { return max_.load(); }
  int samples() const { return samples_.load(); }

 private:
  uint16_t port_;
  std::vector<std::string> ips_;
  std::atomic<bool> stop_{false};
  std::atomic<int> max_{0};
  std::atomic<int> samples_{0};
  std::thread thread_;
};

TEST_F(MxRollup, DomainsWithTheSameMxSetShareOnePoolAndItsConnectionLimit) {
  auto& dns = make_dns({"gmail.test", "googlemail.test", "other.test", "mx.test"});
  for (const char* d : {"gmail.test", "googlemail.test"}) {
    dns.add({d, "MX", 300, "5 a.mx.test"});
    dns.add({d, "MX", 300, "10 b.mx.test"});
  }
  dns.add({"other.test", "MX", 300, "10 c.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  dns.add({"c.mx.test", "A", 300, "127.0.0.4"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  // -w 1: every DATA reply waits 1 s, so each connection stays busy about a second per message.
  start_sink("127.0.0.2", {"-w", "1"});
  start_sink("127.0.0.3", {"-w", "1"});
  start_sink("127.0.0.4");
  // The defaults allow 20: only the rolled-up site's shared limit of 2 keeps the count down.
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.threads = 2,
                                          .max_connections = 20,
                                          .extra_toml = "[domains.\"gmail.test\"]\nmax_connections = 2\n"
                                                        "[domains.\"googlemail.test\"]\nmax_connections = 2\n"}));

  // 30 queued messages would make ringpost open 3 connections (one per 10 queued) if the
  // limit allowed it; two separate sites would each open 2.
  constexpr int kPerDomain = 15;
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < kPerDomain; ++i)
    for (const char* d : {"gmail.test", "googlemail.test"})
      batch.push_back({"sender@example.test", {fmt::format("user{}@{}", i, d)}, fmt::format("rollup {} {}", d, i), "x"});
  ConnectionSampler sampler(mx_port(), {"127.0.0.2", "127.0.0.3"});
  auto ids = api().submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_EQ(ids->size(), batch.size());
  for (const auto& id : *ids) {
    auto r = wait_final(id, 90s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r);
  }
  sampler.stop();
  std::fprintf(stderr, "[mx] max concurrent connections to the shared MX set: %d (%d samples)\n", sampler.max(),
               sampler.samples());
  EXPECT_LE(sampler.max(), 2) << "the two domains' shared limit of 2 connections was exceeded\n" << diagnostics();
  EXPECT_EQ(sampler.max(), 2) << "never 2 connections at once: the test did not load the pool";
  EXPECT_EQ(count_at("127.0.0.2") + count_at("127.0.0.3"), 2 * kPerDomain) << diagnostics();
  EXPECT_EQ(count_at("127.0.0.2"), 2 * kPerDomain) << "all to the preferred MX";
  EXPECT_EQ(stats().sites, 1) << "gmail.test and googlemail.test should roll up into one site";

  auto other = wait_final(submit("user@other.test"), 20s);
  ASSERT_TRUE(other) << diagnostics();
  EXPECT_EQ(other->state, "delivered") << describe(*other);
  EXPECT_EQ(count_at("127.0.0.4"), 1) << diagnostics();
  EXPECT_EQ(stats().sites, 2) << "a different MX set is a site of its own";
}

// Regression test for a bug this test found (fixed): rollup must keep each domain's preference order,
// so two domains listing the same hosts in opposite orders get separate sites.
TEST_F(MxRollup, EachDomainKeepsItsOwnPreferenceOrder) {
  auto& dns = make_dns({"gmail.test", "googlemail.test", "mx.test"});
  dns.add({"gmail.test", "MX", 300, "5 a.mx.test"});
  dns.add({"gmail.test", "MX", 300, "10 b.mx.test"});
  dns.add({"googlemail.test", "MX", 300, "5 b.mx.test"});
  dns.add({"googlemail.test", "MX", 300, "10 a.mx.test"});
  dns.add({"a.mx.test", "A", 300, "127.0.0.2"});
  dns.add({"b.mx.test", "A", 300, "127.0.0.3"});
  ASSERT_NO_FATAL_FAILURE(start_dns());
  start_sink("127.0.0.2");
  start_sink("127.0.0.3");
  // One message per connection, so no connection opened for one domain carries the other's.
  ASSERT_NO_FATAL_FAILURE(start_ringpost({.max_msgs_per_connection = 1}));

  constexpr int kPerDomain = 10;
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < kPerDomain; ++i)
    for (const char* d : {"gmail.test", "googlemail.test"})
      batch.push_back({"sender@example.test", {fmt::format("user{}@{}", i, d)}, "order", "x"});
  auto ids = api().submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  for (const auto& id : *ids) {
    auto r = wait_final(id, 30s);
    ASSERT_TRUE(r) << diagnostics();
    EXPECT_EQ(r->state, "delivered") << describe(*r);
  }
  auto domains_at = [&](const std::string& ip) {
    std::map<std::string, int> n;
    for (const auto& m : sink(ip).messages())
      for (const auto& r : m.rcpts) ++n[r.substr(r.find('@') + 1)];
    return n;
  };
  auto at_a = domains_at("127.0.0.2"), at_b = domains_at("127.0.0.3");
  EXPECT_EQ(at_a["gmail.test"], kPerDomain) << "gmail.test prefers a.mx.test (127.0.0.2)";
  EXPECT_EQ(at_b["googlemail.test"], kPerDomain) << "googlemail.test prefers b.mx.test (127.0.0.3)";
  EXPECT_EQ(at_a["googlemail.test"] + at_b["gmail.test"], 0) << "mail sent to a less preferred MX";
}

}  // namespace
}  // namespace ringpost::mx_test
