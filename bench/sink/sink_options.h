// `ringpost sink` options: the SMTP behaviour (SinkConfig) plus what the driver does with the
// network, time limits and reporting. Plain data, filled by sink_cli.cc.
#pragma once

#include <cstdint>
#include <string>

#include "bench/sink/sink_config.h"

namespace ringpost::sink {

struct SinkOptions {
  std::string listen = "127.0.0.1:2525";
  SinkConfig smtp;
  uint32_t latency_ms = 0;       // added before each reply (a pipelined burst waits n × latency)
  uint32_t max_connections = 0;  // beyond it a new connection gets 421 and is closed; 0 = no limit
  std::string tls_cert;          // both set: STARTTLS is offered
  std::string tls_key;
  double duration_s = 0;         // stop after this long; 0 = until SIGINT/SIGTERM
  uint64_t max_messages = 0;     // stop once this many messages were accepted; 0 = no limit
  uint32_t interval_ms = 1000;   // progress line and series granularity
  std::string series_path;       // per-interval counts, TSV, for plots
  bool json = false;             // final summary as JSON on stdout
  bool quiet = false;            // no per-interval lines on stderr
};

}  // namespace ringpost::sink
