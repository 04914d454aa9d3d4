// Harness for the traffic-shaping and live-administration tests (issue 7):
//  * ShapingSmtp: launches shaping_smtp.py (a scripted SMTP server that counts from the far side)
//    and reads its JSON-lines log: per accepted message the arrival time and recipients, and the
//    number of concurrent sessions at every connect.
//  * ShapingServer: `ringpost serve` with lines in [server] (admin_token) that it::RingpostServer
//    cannot render, a config file that can be rewritten atomically, SIGHUP, and restart.
//  * admin_request / DomainInfo: the admin API (Authorization: Bearer) and its domain object.
// Everything is owned by one test thread; every child process is reaped by RAII (it::Process).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/http_client.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"

namespace ringpost::shaping {

// CLOCK_MONOTONIC in seconds: the clock of shaping_smtp.py's time.monotonic(), so the test can
// compare its own instants (a PUT, a SIGHUP) with arrival times logged by the far side.
double mono_now();

// ---- the scripted SMTP server ---------------------------------------------------------------

// One line of shaping_smtp.py's log (see the script's docstring).
struct SmtpEvent {
  std::string ev;  // connect | disconnect | rcpt | fault | message | rejected | control | error
  int session = 0;
  double t = 0;
  int concurrent = 0, max_concurrent = 0;  // connect (concurrent also on disconnect)
  std::string by;                          // disconnect
  std::string address;                     // rcpt
  std::string reply;                       // rcpt, fault, rejected
  std::string phase, arg;                  // fault
  std::string mail_from, subject;          // message
  std::vector<std::string> rcpts;          // message, rejected
  int64_t bytes = 0;
};

struct SmtpLog {
  std::vector<SmtpEvent> events;  // in log order (the server is single-threaded: event order)
  std::string raw;

  std::vector<SmtpEvent> of(std::string_view ev) const;
  std::vector<SmtpEvent> messages() const { return of("message"); }
  // Accepted messages whose arrival time is in [t0, t1).
  int messages_between(double t0, double t1) const;
  // Connects whose time is in [t0, t1).
  int connects_between(double t0, double t1) const;
  int connects() const { return static_cast<int>(of("connect").size()); }
  int max_concurrent() const;
  std::optional<double> first_message_time() const;
  // How many accepted transactions carried `address` (each must be 1 for exactly-once).
  int copies_of(std::string_view address) const;
  int rcpt_commands_for(std::string_view address) const;
  // The last n lines, for failure messages.
  std::string tail(std::size_t n = 40) const;
  // Accepted messages per second from t0, e.g. "[50 50 49 ...]", for failure messages.
  std::string per_second(double t0, int seconds) const;
};

class ShapingSmtp {
 public:
  // Starts shaping_smtp.py on host:port (host 127.0.0.x) with `args` (see the script's --help);
  // its files live in `dir` (log.jsonl, out.txt, control).
  static tl::expected<ShapingSmtp, std::string> start(const std::filesystem::path& dir, std::string host,
                                                      uint16_t port, std::vector<std::string> args);
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string route() const;  // "host:port"
  tl::expected<SmtpLog, std::string> log() const;
  // Replaces the control rules (one spec per line, written atomically); {} clears them.
  tl::expected<void, std::string> set_control(const std::vector<std::string>& specs) const;
  it::Process& process() { return process_; }

 private:
  ShapingSmtp(it::Process p, std::filesystem::path dir, std::string host, uint16_t port)
      : process_(std::move(p)), dir_(std::move(dir)), host_(std::move(host)), port_(port) {}
  it::Process process_;
  std::filesystem::path dir_;
  std::string host_;
  uint16_t port_;
};

// ---- ringpost -------------------------------------------------------------------------------

// it::render_toml(cfg) with `server_toml` (e.g. "admin_token = \"secret\"\n") placed inside
// [server], where ServerConfig::extra_toml cannot put it.
std::string render_config(const it::ServerConfig& cfg, std::string_view server_toml);

class ShapingServer {
 public:
  static tl::expected<ShapingServer, std::string> start(const std::filesystem::path& dir, it::ServerConfig cfg,
                                                        std::string server_toml);
  uint16_t port() const { return cfg_.http_port; }
  const it::ServerConfig& config() const { return cfg_; }
  const std::string& toml() const { return toml_; }
  it::Process& process() { return *process_; }
  std::filesystem::path config_path() const { return dir_ / "ringpost.toml"; }

  // Writes new config text atomically (temporary file + rename): the server never reads half.
  tl::expected<void, std::string> write_config_text(const std::string& text);
  tl::expected<void, std::string> write_config(const it::ServerConfig& cfg, std::string_view server_toml);
  tl::expected<void, std::string> sighup();
  // SIGTERM, wait for the listener to leave the kernel's table (bounded), start again over the
  // same config file and spool.
  tl::expected<void, std::string> restart();

 private:
  ShapingServer(std::filesystem::path dir, it::ServerConfig cfg) : dir_(std::move(dir)), cfg_(std::move(cfg)) {}
  tl::expected<void, std::string> launch();

  std::filesystem::path dir_;
  it::ServerConfig cfg_;
  std::string toml_;
  int launches_ = 0;
  std::optional<it::Process> process_;
};

// ---- the admin API --------------------------------------------------------------------------

// One request on its own connection ("Connection: close"), with an optional Authorization value
// ("Bearer secret"; empty = no header). Bounded by a 15 s socket timeout.
tl::expected<it::HttpResponse, std::string> admin_request(uint16_t port, std::string_view method,
                                                          std::string_view target, std::string_view body,
                                                          std::string_view authorization);

struct DomainLimits {
  int64_t max_connections = 0;
  int64_t max_msgs_per_connection = 0;
  std::optional<double> msgs_per_second;
  std::optional<double> connections_per_second;
  std::optional<int64_t> max_recipients_per_message;
  std::string idle_timeout;  // documented as "30s"; compare with duration_ms()
};

// "30s", "30000ms", "1m", "1h", "2d" -> milliseconds; nullopt if it does not parse.
std::optional<int64_t> duration_ms(std::string_view text);

struct DomainInfo {
  std::string domain;
  std::optional<std::string> site;  // null until the domain has been routed (seen from ringpost)
  int64_t queued = 0, in_flight = 0, connections = 0;
  double msgs_per_second_measured = 0;
  DomainLimits limits;
  std::optional<std::string> suspended_until, throttled_until;
  std::optional<it::ReplyInfo> last_error;
  std::string raw;  // the object's JSON, for failure messages
};

// The documented domain object; a missing key or a wrong type is an error quoting the body.
tl::expected<DomainInfo, std::string> parse_domain(std::string_view body);
// {"domains":[...]}.
tl::expected<std::vector<DomainInfo>, std::string> parse_domains(std::string_view body);
// error.field and error.message of an error body ("" when absent).
std::string error_field_of(std::string_view body);
std::string error_message_of(std::string_view body);

class AdminClient {
 public:
  AdminClient(uint16_t port, std::string token) : port_(port), auth_("Bearer " + std::move(token)) {}
  tl::expected<it::HttpResponse, std::string> call(std::string_view method, std::string_view target,
                                                   std::string_view body = {}) const {
    return admin_request(port_, method, target, body, auth_);
  }
  // GET /v1/domains/{d}, expecting 200 and the documented object.
  tl::expected<DomainInfo, std::string> domain(std::string_view d) const;
  tl::expected<std::vector<DomainInfo>, std::string> domains() const;
  // PUT /v1/domains/{d}/throttle, expecting 200 and the domain object.
  tl::expected<DomainInfo, std::string> throttle(std::string_view d, std::string_view json) const;
  // POST /v1/domains/{d}/{action} with `json` ("" = no body), expecting 200; returns the body.
  tl::expected<std::string, std::string> post(std::string_view d, std::string_view action,
                                              std::string_view json = {}) const;
  void set_port(uint16_t port) { port_ = port; }

 private:
  uint16_t port_;
  std::string auth_;
};

// ---- helpers --------------------------------------------------------------------------------

// n messages, one recipient each: <local_prefix><i>@domain, subject "<tag> <i>".
std::vector<it::OutgoingMessage> make_messages(std::string_view domain, int n, std::string_view tag,
                                               std::string_view local_prefix = "r");
// Submits in batches of at most 1,000; returns every id in order.
tl::expected<std::vector<std::string>, std::string> submit_all(it::RingpostApi& api,
                                                               const std::vector<it::OutgoingMessage>& msgs);

}  // namespace ringpost::shaping
