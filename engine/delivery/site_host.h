// What a Site needs from the shard that owns it: the shard's clock, where recipients' outcomes
// and retries go, the limits and TLS contexts in force, and the I/O a site starts (a
// connection's transport, a body read back from the spool). Shard implements it; the tests of
// tests/delivery drive a Site through a fake host with a hand-moved clock and in-memory
// transports, so slow start, failure scope and rate limits are checked to the exact count.
// Called on the shard's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/delivery/destination_limiter.h"
#include "engine/delivery/route.h"
#include "engine/delivery/smtp_connection.h"
#include "engine/delivery/transport.h"
#include "queue/retry_policy.h"

namespace ringpost::engine {

class ShardMetrics;
class Site;
struct ShardCounters;

class SiteHost {
 public:
  // The shard's "now": its loop reads the clock once per iteration.
  virtual int64_t now() const = 0;
  virtual const std::string& hostname() const = 0;
  // Stopping: sites hand out no more mail and close idle connections with QUIT.
  virtual bool draining() const = 0;
  virtual const ResponseRules& rules() const = 0;
  // The TLS context and session cache for a policy's verification settings.
  virtual TlsProfile tls_profile(const DeliveryPolicy& p) = 0;
  virtual ShardCounters& counters() = 0;
  virtual ShardMetrics& metrics() = 0;
  virtual std::unique_ptr<DestinationLimiter> make_destination_limiter(const std::string& site) const = 0;

  // A recipient's outcome. `host`: the endpoint the attempt talked to, for the attempt history.
  virtual void report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
                      uint32_t attempts, const smtp::Reply& reply, const std::string& site = {},
                      const std::string& host = {}, const AttemptTrace& trace = {}) = 0;
  // d's recipients wait for a suspension to end at until_ms: reported deferred with `why` and
  // that time, no attempt counted. Once per suspension per delivery, not per tick.
  virtual void report_hold(const Delivery& d, const smtp::Reply& why, int64_t until_ms, const std::string& site) = 0;
  // `route`: the route d was on, kept with it so the retry needs no new lookup.
  virtual void schedule_retry(Delivery d, int64_t at_ms, RoutePtr route = nullptr) = 0;
  // Counts an attempt for every recipient of d and retries or expires them by policy.
  virtual void defer(Delivery d, const smtp::Reply& why, const queue::RetryPolicy& retry, const std::string& site = {},
                     RoutePtr route = nullptr) = 0;
  // One recipient's failed attempt: reported deferred and added to `again` (its next attempt
  // goes to again_at), or reported expired once the policy gives up.
  virtual void defer_recipient(const RecipientRef& r, const smtp::Reply& why, const queue::RetryPolicy& retry,
                               Delivery& again, int64_t& again_at, const std::string& site = {},
                               const std::string& host = {}, const AttemptTrace& trace = {}) = 0;
  // A delivery of a message an operator bounced (bounce-all) is reported bounced, not sent.
  virtual bool bounced_by_operator(const std::string& domain, const Delivery& d) = 0;
  // Something happened to s: the host visits it (pump, reap, eviction) before it next waits.
  virtual void mark_dirty(Site& s) = 0;

  // A connection's byte pipe, not yet connected.
  virtual std::unique_ptr<Transport> make_transport() = 0;
  // Reads a body back from its spool segment into `into` (at.size bytes); `done` completes
  // with the byte count or -errno, never inside the call.
  virtual void read_body(const BodyRef& at, std::span<char> into, Completion& done) = 0;

 protected:
  ~SiteHost() = default;  // not owned through this interface
};

}  // namespace ringpost::engine
