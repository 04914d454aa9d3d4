// Wall-clock milliseconds. Protocol code never reads the clock; the loops read it once per
// iteration and pass it down, so one iteration sees one consistent "now".
#pragma once

#include <chrono>
#include <cstdint>

namespace ringpost::engine {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ringpost::engine
