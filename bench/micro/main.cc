// micro_bench: see CMakeLists.txt and bench/README.md. Custom context lines (DKIM library,
// spool directory) land in the JSON output next to Google Benchmark's CPU and cache lines.
#include <benchmark/benchmark.h>

#include "bench/micro/micro.h"
#include "dkim/signer.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ringpost::bench::register_smtp();
  ringpost::bench::register_api();
  ringpost::bench::register_handoff();
  ringpost::bench::register_spool();
  ringpost::bench::register_rules();
  benchmark::AddCustomContext("dkim", ringpost::dkim::library_version());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
