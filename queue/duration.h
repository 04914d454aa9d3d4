// Parser for configuration durations: "250ms", "30s", "5m", "2h", "5d", bare integer seconds
// "90", and composites such as "1h30m" (units largest first, each at most once). Pure; any
// thread. Invariant: the result is never negative and never overflowed.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::queue {

// Errors name the input and what was wrong with it, ready to show in a config error.
tl::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s);

}  // namespace ringpost::queue
