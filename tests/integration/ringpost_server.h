// Runs `ringpost serve --config FILE` for a test: renders the TOML config, starts the
// process, waits for "listening on 127.0.0.1:<port>", and can SIGTERM / SIGKILL / restart
// it over the same config and spool. Owned by one test thread; reaped by the destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/process.h"

namespace ringpost::it {

struct DomainRoute {
  std::string domain;  // e.g. "sink.test"
  std::string route;   // "127.0.0.1:2526"
  // TOML lines appended verbatim inside this domain's table, e.g. "tls = \"verify\"\n".
  // (Defaulted with "= {}" so positional {domain, route} initializers stay warning-free.)
  std::string extra_toml = {};
};

struct ServerConfig {
  uint16_t http_port = 0;
  int threads = 2;
  std::filesystem::path spool_dir;
  std::string hostname = "mta.example.test";
  int max_connections = 20;
  int max_msgs_per_connection = 100;
  std::vector<std::string> retry = {"1s"};
  std::string max_age = "5d";
  std::string connect_timeout = "2s";
  std::vector<DomainRoute> domains;
  // Appended verbatim after everything else, so it must open its own table ("[server]" and
  // "[defaults]" are already taken; a key here would land in the last domain's table).
  std::string extra_toml;
  // TOML lines appended verbatim inside [defaults], e.g. "mx_port = 2525\ntls = \"off\"\n"
  // (TOML allows a table to be opened only once, so extra_toml cannot add to [defaults]).
  std::string defaults_toml = {};
  // TOML lines appended verbatim inside [server], e.g. "max_request_bytes = 65536\n".
  std::string server_toml = {};
};

std::string render_toml(const ServerConfig& cfg);

class RingpostServer {
 public:
  // Writes <dir>/ringpost.toml and starts the server with output in <dir>/ringpost-N.log.
  static tl::expected<RingpostServer, std::string> start(const std::filesystem::path& dir, ServerConfig cfg);

  uint16_t port() const { return cfg_.http_port; }
  const ServerConfig& config() const { return cfg_; }
  // The running (or last) process; absent only after a failed restart.
  Process& process() { return *process_; }

  // SIGKILL: nothing is flushed, nothing is said goodbye to.
  void kill9() { process_->kill9(); }
  // SIGTERM; true if the server exited by itself within `grace`.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) { return process_->terminate(grace); }
  // Starts a new process over the same config file and spool, once the old HTTP listener
  // has left the kernel's socket table (see restart() in the .cc for why that can lag).
  tl::expected<void, std::string> restart();
  // How long the last restart() waited for the old listener to go away.
  std::chrono::milliseconds last_port_release_wait() const { return last_port_release_wait_; }

 private:
  RingpostServer(std::filesystem::path dir, ServerConfig cfg) : dir_(std::move(dir)), cfg_(std::move(cfg)) {}
  tl::expected<void, std::string> launch();

  std::filesystem::path dir_;
  ServerConfig cfg_;
  int launches_ = 0;
  std::chrono::milliseconds last_port_release_wait_{0};
  std::optional<Process> process_;
};

}  // namespace ringpost::it
