// libFuzzer target: arbitrary bytes through ReplyParser fed whole, byte by byte and in chunks;
// all three must agree and keep the parse() contract (tests/smtp/session_harness.h). Clang only.
// Seeds: tests/data/fuzz/reply_parser.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/smtp/session_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string err =
      ringpost::smtp::testing::check_reply_parser(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!err.empty()) {
    std::fprintf(stderr, "contract violated: %s\n", err.c_str());
    std::abort();
  }
  return 0;
}
