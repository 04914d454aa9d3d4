// `ringpost bench` options. Plain data, filled by load_cli.cc.
#pragma once

#include <cstdint>
#include <string>

namespace ringpost::load {

struct LoadOptions {
  std::string url = "http://127.0.0.1:8025";
  uint32_t batch = 100;        // messages per POST /v1/messages/batch
  uint32_t concurrency = 4;    // HTTP connections, one submitting thread each
  uint32_t size = 1024;        // bytes of text per message
  uint32_t domains = 1;        // recipients spread over this many domains (see domain_name())
  std::string domain = "bench.test";
  uint64_t messages = 0;       // submit this many; 0 with no --duration = 10,000
  double duration_s = 0;       // or submit for this long
  double wait_s = 120;         // then wait at most this long for every outcome
  uint32_t samples = 500;      // message ids whose status is read for submit→delivered latency
  int server_pid = 0;          // 0 = the process listening on the URL's port
  bool json = false;
};

// The k-th destination domain: the --domain itself when there is one, else d<k>.<domain>,
// which is what a config must route (bench/compare/run.sh writes those sections).
std::string domain_name(const LoadOptions& o, uint32_t k);

}  // namespace ringpost::load
