// A real authoritative DNS server for tests: Knot DNS (knotd) run in the foreground as a child,
// on a loopback port, serving zones the test writes. Owned by one test thread; not thread-safe.
// Invariants: everything it writes (config, zones, pid file, control socket, knotd's database)
// lives under one mkdtemp directory; a knotd it started is always stopped and reaped (the
// destructor calls stop()); after publish() or start() succeeds, the server answers with the
// serial they wrote, so a query sent next sees exactly the records published.
// README.md beside this file says why Knot, and what c-ares returns for each case.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tests/dns_support/zone_file.h"

namespace ringpost::testing {

struct AuthoritativeDnsOptions {
  std::string listen_ip = "127.0.0.1";  // or "::1"
  uint16_t port = 0;                    // 0: a port free on `listen_ip` for both UDP and TCP
  std::vector<std::string> zones;       // "mx.test", "example.test": the server is authoritative for these
};

enum class StopMode {
  // knotd exits and the port is closed. On loopback the kernel answers each query with ICMP port
  // unreachable, so c-ares fails at once with ARES_ECONNREFUSED, not with a timeout.
  kClosePort,
  // knotd exits and the harness binds the port (UDP, and TCP listening without accepting) and
  // never answers: c-ares waits out its timeout and gets ARES_ETIMEOUT, as with a dead remote
  // server that drops packets. start()/restart() release the port to knotd again.
  kBlackhole,
};

class AuthoritativeDns {
 public:
  using Options = AuthoritativeDnsOptions;

  // Makes the directory and picks the port; starts nothing (records added before start() are
  // served from the start). Throws std::runtime_error if the directory or a port cannot be had
  // and std::invalid_argument without zones: a test cannot go on without them.
  explicit AuthoritativeDns(Options options);
  AuthoritativeDns(const AuthoritativeDns&) = delete;
  AuthoritativeDns& operator=(const AuthoritativeDns&) = delete;
  // Stops and reaps knotd. Removes the directory, or keeps it (and says where) when the current
  // GoogleTest test has failed, so its log and zone files can be read.
  ~AuthoritativeDns();

  // Why knotd cannot run here (not installed), or nullopt.
  static std::optional<std::string> unavailable_reason();

  // Edits the record set; nothing changes on the wire until publish() (or start()). A name that
  // no zone holds, an empty type, or an SOA (the harness owns it) is a bug in the test and
  // throws std::invalid_argument. Names compare case-insensitively, with or without the dot.
  void add(DnsRecord record);
  // Every (name, type) record is dropped and `records` put in its place; each must have that
  // name and type. An empty `records` is remove(name, type).
  void replace(std::string_view name, std::string_view type, std::vector<DnsRecord> records);
  // Drops every record of (name, type); type "ANY" drops every record of the name.
  void remove(std::string_view name, std::string_view type);
  const std::vector<DnsRecord>& records() const { return records_; }

  // Writes every zone at a new serial. While running, has knotd load them (knotc zone-reload)
  // and waits, bounded, until the server answers each zone's SOA with the new serial. A zone
  // knotd rejects (say, a CNAME beside other data) is an error quoting knotc's reason; the
  // server then goes on serving what it had.
  tl::expected<void, std::string> publish();

  // Writes the zones, starts knotd, and waits (bounded) until every zone answers. An error
  // carries knotd's log.
  tl::expected<void, std::string> start();
  // Stops knotd (SIGTERM, then SIGKILL) and reaps it. Idempotent; a stopped server can switch
  // from one mode to the other.
  void stop(StopMode mode = StopMode::kClosePort);
  // stop() then start(), on the same port with the records as they are now.
  tl::expected<void, std::string> restart();

  bool running();                 // reaps knotd if it died on its own
  pid_t pid() const { return pid_; }  // -1 while stopped
  uint16_t port() const { return port_; }
  const std::string& listen_ip() const { return options_.listen_ip; }
  // "127.0.0.1:PORT" or "[::1]:PORT", as ares_set_servers_ports_csv() takes it.
  std::string server_spec() const;
  uint32_t serial() const { return serial_; }
  const std::filesystem::path& dir() const { return dir_; }
  // knotd's output since the first start (stderr log at level info: loads, reloads, errors).
  std::string log() const;

 private:
  std::string zone_of(std::string_view canonical) const;  // closest enclosing zone, or ""
  tl::expected<void, std::string> write_zones();
  tl::expected<void, std::string> check_zones();
  tl::expected<void, std::string> wait_for_serial(std::chrono::milliseconds timeout);
  void release_blackhole();
  void hold_blackhole();

  Options options_;
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path control_socket_;
  uint16_t port_ = 0;
  uint32_t serial_ = 0;
  pid_t pid_ = -1;
  std::vector<DnsRecord> records_;
  int blackhole_udp_ = -1;
  int blackhole_tcp_ = -1;
};

}  // namespace ringpost::testing
