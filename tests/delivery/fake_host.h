// A SiteHost for tests: a clock that moves only when the test says (now_ms), records of every
// outcome, hold, deferral and retry the site reports, and connections over a FakeNetwork.
// visit() and settle() do what Shard's loop does to a site (visit after every batch of
// completions), at one instant of the fake clock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/delivery/shard_counters.h"
#include "engine/delivery/site.h"
#include "engine/delivery/site_host.h"
#include "engine/ops/metrics/shard_metrics.h"
#include "engine/tls/client_context.h"
#include "engine/tls/session_cache.h"
#include "tests/delivery/fake_network.h"

namespace ringpost::engine::testing {

class FakeHost final : public SiteHost {
 public:
  explicit FakeHost(FakeNetwork& net) : net_(net) {}

  int64_t now_ms = 1'700'000'000'000;  // the fake clock
  ResponseRules rule_set;              // none unless a test adds some
  std::optional<tls::ClientContext> tls_ctx;  // set: STARTTLS gets a real (unverified) context

  struct Report {
    std::string message;
    uint32_t rcpt = 0;
    queue::RecipientState state{};
    uint32_t attempts = 0;
    smtp::Reply reply;
    std::string host;
    AttemptTrace trace;
    int64_t at_ms = 0;
    bool hold = false;
    int64_t until_ms = 0;  // hold: when it ends
  };
  std::vector<Report> reports;
  struct Deferral {
    std::string message;
    smtp::Reply why;
  };
  std::vector<Deferral> defers;  // defer() calls: a whole delivery deferred by the site
  struct Retry {
    std::string message;
    int64_t at_ms = 0;
  };
  std::vector<Retry> retries;

  std::size_t count(queue::RecipientState s, bool hold = false) const;

  int64_t now() const override { return now_ms; }
  const std::string& hostname() const override { return hostname_; }
  bool draining() const override { return false; }
  const ResponseRules& rules() const override { return rule_set; }
  TlsProfile tls_profile(const DeliveryPolicy& p) override;
  ShardCounters& counters() override { return counters_; }
  ShardMetrics& metrics() override { return metrics_; }
  std::unique_ptr<DestinationLimiter> make_destination_limiter(const std::string&) const override {
    return std::make_unique<LocalDestinationLimiter>();
  }
  void report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
              uint32_t attempts, const smtp::Reply& reply, const std::string& site = {}, const std::string& host = {},
              const AttemptTrace& trace = {}) override;
  void report_hold(const Delivery& d, const smtp::Reply& why, int64_t until_ms, const std::string& site) override;
  void schedule_retry(Delivery d, int64_t at_ms, RoutePtr route = nullptr) override;
  void defer(Delivery d, const smtp::Reply& why, const queue::RetryPolicy& retry, const std::string& site = {},
             RoutePtr route = nullptr) override;
  // As Shard's, without the jitter, so retry times are exact.
  void defer_recipient(const RecipientRef& r, const smtp::Reply& why, const queue::RetryPolicy& retry,
                       Delivery& again, int64_t& again_at, const std::string& site = {}, const std::string& host = {},
                       const AttemptTrace& trace = {}) override;
  bool bounced_by_operator(const std::string&, const Delivery&) override { return false; }
  void mark_dirty(Site& s) override { dirty_.insert(&s); }
  std::unique_ptr<Transport> make_transport() override { return net_.make_transport(); }
  // From the fake segment of mail_to(): every body there is kBody, at offset 0.
  void read_body(const BodyRef& at, std::span<char> into, Completion& done) override;
  std::size_t body_reads = 0;

  // Shard::visit without the eviction: note_activity, pump, reap.
  void visit(Site& s);
  // At the current fake time: tick and visit `s`, then complete rounds of I/O, visiting the
  // sites each touched after every round, until nothing is left in flight.
  void settle(Site& s);
  // Moves the clock to t and settles s there.
  void step(Site& s, int64_t t) {
    now_ms = t;
    settle(s);
  }

 private:
  FakeNetwork& net_;
  std::string hostname_ = "mta.ringpost.test";
  ShardCounters counters_;
  ShardMetrics metrics_{16};
  std::set<Site*> dirty_;
  tls::SessionCache sessions_;
};

inline constexpr std::string_view kBody = "Subject: test\r\n\r\nHello.\r\n";
// One message from sender@origin.test to rcpt@`domain`, its body (kBody) in memory and, for a
// delivery that drops it while it waits (a hold), in a fake spool segment (FakeHost::read_body).
Delivery mail_to(const std::string& domain, const std::string& id);
// "mx-a.test[192.0.2.N]:25": an endpoint of host `host` with preference `pref`.
Endpoint endpoint(const std::string& host, uint8_t last_octet, uint16_t pref = 10);
RoutePtr route_of(std::vector<Endpoint> eps, std::string site = "mx:test");

}  // namespace ringpost::engine::testing
