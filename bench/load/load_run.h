// `ringpost bench`'s run: submit batches over HTTP from `concurrency` threads (one blocking
// keep-alive connection each), poll GET /v1/stats until every accepted message has an outcome,
// then read sampled messages' status for their delivery time. The calling thread polls and
// reports; submitting threads share only atomics until they are joined.
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "bench/load/load_options.h"

namespace ringpost::load {

struct Percentiles {
  uint64_t count = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

struct LoadResult {
  uint64_t accepted = 0;        // messages in 202 answers
  uint64_t failed = 0;          // messages whose batch was never accepted
  uint64_t http_errors = 0;     // non-202 answers and transport errors (retried)
  double submit_s = 0;          // first request sent → last 202 received
  uint64_t delivered = 0, bounced = 0, expired = 0;  // outcomes during the run (stats deltas)
  bool complete = false;        // every accepted message had an outcome within --wait
  double done_s = 0;            // first request → the stats poll that saw the last outcome
  Percentiles submit_ms;        // per batch request, send → 202
  Percentiles delivery_ms;      // sampled messages: request sent → their recipient's updated_at
  uint64_t samples_not_delivered = 0;
  uint64_t connections_opened = 0, transactions = 0;  // stats deltas
  int server_pid = 0;
  double server_cpu_s = 0;      // /proc/PID/stat delta over the run
  uint64_t server_hwm_kb = 0, server_rss_kb = 0;
  double client_cpu_s = 0;      // this process (getrusage)
};

tl::expected<LoadResult, std::string> run_load(const LoadOptions& o);

}  // namespace ringpost::load
