// MX routing for one shard, RFC 5321 §5.1: c-ares driven from the shard's io_uring loop (its
// sockets are polled with IORING_OP_POLL_ADD, its timeouts by the shard tick), so lookups never
// block and need no resolver thread. Answers are parsed by the sans-IO engine/dns code, which
// keeps the TTLs. Owned by the shard thread; the shard caches the results.
#pragma once

#include <ares.h>

#include <functional>
#include <memory>
#include <string>
#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/config/config.h"
#include "engine/runtime/ring.h"
#include "engine/delivery/route.h"
#include "engine/ops/metrics/solo_counter.h"

namespace ringpost::engine {

class MxResolver {
 public:
  struct Result {
    RoutePtr route;       // set on success
    smtp::Reply failure;  // otherwise: why (5xx = bounce: NXDOMAIN, null MX; 4xx = try later)
    int64_t expires_ms = 0;
  };
  using Done = std::function<void(const std::string& domain, Result result)>;

  MxResolver(Ring& ring, const Config& cfg, Done done);
  ~MxResolver();
  MxResolver(const MxResolver&) = delete;
  MxResolver& operator=(const MxResolver&) = delete;

  // Starts a lookup of `domain` (or of a static route's host name), unless one for the same
  // name is in flight: then the caller waits for that one's answer (Done is called once per
  // name, and the shard hands it to every domain waiting on the name).
  // At most [dns] max_lookups_in_flight run at once; later names wait, in order, and each
  // wait is counted in `waited` (ringpost_limit_hits_total{limit="max_lookups_in_flight"}).
  void lookup(const std::string& domain, int64_t now);
  // Runs c-ares' timeouts. The last `now` given here or to lookup() is the clock answers are
  // stamped with: a TTL counts from it (Result::expires_ms).
  void tick(int64_t now);
  std::size_t in_flight() const { return lookups_.size(); }
  std::size_t waiting() const { return waiting_.size(); }
  void set_wait_counter(SoloCounter* waited) { waited_ = waited; }
  // Test seam: c-ares makes its socket calls through `functions` (ares_set_socket_functions),
  // so a unit test can answer queries in memory (tests/mx/in_memory_dns.h). Everything else,
  // the ring polls included, stays as in production. Call before the first lookup (c-ares opens
  // its sockets with the first query); c-ares keeps both pointers: they outlive the resolver.
  void set_socket_functions(const ares_socket_functions* functions, void* data);

 private:
  struct Lookup;
  struct Query;
  struct PollOp;

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_mx(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void on_address(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  // Below [dns] max_lookups_in_flight (at least one, so a 0 in a hand-made Config cannot stall).
  bool has_room() const { return lookups_.size() < std::max<std::size_t>(1, cfg_.dns.max_lookups_in_flight); }
  void start(const std::string& domain);
  // Starts waiting names while there is room. Not re-entrant: c-ares may answer (and free a
  // slot) inside ares_query, and the outer loop picks that slot up.
  void start_waiting();
  void resolve_hosts(Lookup& l);
  void arm_poll(ares_socket_t fd);
  void finish(Lookup& l);
  void fail(Lookup& l, smtp::Reply why, uint32_t ttl_s);
  int64_t clamp_ttl(uint32_t ttl_s) const;

  Ring& ring_;
  const Config& cfg_;
  Done done_;
  ares_channel channel_ = nullptr;
  int64_t now_ = 0;
  std::unordered_map<ares_socket_t, PollOp*> polls_;
  std::unordered_map<std::string, std::unique_ptr<Lookup>> lookups_;
  std::deque<std::string> waiting_;
  std::unordered_set<std::string> waiting_names_;
  bool starting_ = false;
  SoloCounter* waited_ = nullptr;
};

}  // namespace ringpost::engine
