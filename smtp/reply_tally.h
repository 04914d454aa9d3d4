// Replies a session received, by class (the first digit: 2xx..5xx), for the driver to add to
// its metrics. Plain data: the session counts, the driver takes the counts and zeroes them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringpost::smtp {

struct ReplyTally {
  static constexpr std::size_t kClasses = 4;  // 2xx, 3xx, 4xx, 5xx
  std::array<uint32_t, kClasses> counts{};

  void count(int code) {
    const int cls = code / 100;
    // The reply parser accepts only codes 200..599 per RFC 5321 §4.2; anything else is ignored.
    if (cls >= 2 && cls <= 5) ++counts[static_cast<std::size_t>(cls - 2)];
  }
  bool empty() const { return !(counts[0] | counts[1] | counts[2] | counts[3]); }
};

}  // namespace ringpost::smtp
