// libFuzzer target: arbitrary server bytes and driver events through ClientSession, with the
// invariants of tests/smtp/session_harness.h (input format there). Clang only; any violation
// aborts so the fuzzer keeps the input. Seeds: tests/data/fuzz/session.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/smtp/session_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string err =
      ringpost::smtp::testing::run_session_script(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!err.empty()) {
    std::fprintf(stderr, "invariant violated: %s\n", err.c_str());
    std::abort();
  }
  return 0;
}
