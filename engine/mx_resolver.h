// MX routing for one shard, RFC 5321 §5.1: c-ares driven from the shard's io_uring loop (its
// sockets are polled with IORING_OP_POLL_ADD, its timeouts by the shard tick), so lookups never
// block and need no resolver thread. Owned by the shard thread. Basic for now: MX by preference,
// implicit MX, null MX, NXDOMAIN; IPv4 addresses; a fixed cache lifetime.
#pragma once

#include <ares.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/config.h"
#include "engine/ring.h"
#include "engine/smtp_connection.h"

namespace ringpost::engine {

class Destination;

class MxResolver {
 public:
  MxResolver(Ring& ring, const Config& cfg);
  ~MxResolver();
  MxResolver(const MxResolver&) = delete;
  MxResolver& operator=(const MxResolver&) = delete;

  // True when d's endpoints were known and have been set; otherwise a lookup is under way and
  // d is told (set_endpoints or fail_route) when it ends.
  bool resolve(Destination& d, int64_t now);
  void tick(int64_t now);

 private:
  struct Lookup;
  struct PollOp;
  struct CacheEntry {
    std::vector<Endpoint> endpoints;
    int64_t expires_ms;
  };

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_mx(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void on_host(void* arg, int status, int timeouts, hostent* host);
  void arm_poll(ares_socket_t fd, int events);
  void finish(Lookup& l);

  Ring& ring_;
  const Config& cfg_;
  ares_channel channel_ = nullptr;
  int64_t now_ = 0;
  std::unordered_map<ares_socket_t, PollOp*> polls_;
  std::unordered_map<std::string, std::unique_ptr<Lookup>> lookups_;
  std::unordered_map<std::string, CacheEntry> cache_;
};

}  // namespace ringpost::engine
