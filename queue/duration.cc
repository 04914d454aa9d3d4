// Duration parser (duration.h). Pure; any thread.
// Invariant: every multiplication and addition is overflow-checked before it is used.
#include "queue/duration.h"

#include <cstdint>

#include <fmt/format.h>

namespace ringpost::queue {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};

// Largest first: a composite must use them in this order, each at most once, so "5m30m" or
// "30s1m" (almost certainly typos) are rejected instead of silently summed.
constexpr Unit kUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

tl::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s) {
  auto fail = [&](std::string_view why) {
    return tl::unexpected(fmt::format("invalid duration \"{}\": {}", s, why));
  };
  if (s.empty()) return fail("empty");

  int64_t total = 0;
  std::size_t pos = 0;
  std::size_t next_unit = 0;  // kUnits index of the largest unit still allowed
  while (pos < s.size()) {
    const std::size_t num_start = pos;
    int64_t value = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, s[pos] - '0', &value)) {
        return fail("number too large");
      }
      ++pos;
    }
    if (pos == num_start) {
      if (s[pos] == '-') return fail("negative durations are not allowed");
      if (is_alpha(s[pos])) return fail(fmt::format("missing number before unit at position {}", pos));
      return fail(fmt::format("unexpected character '{}' at position {}", s[pos], pos));
    }
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) return fail("fractional values are not supported");

    const std::size_t unit_start = pos;
    while (pos < s.size() && is_alpha(s[pos])) ++pos;
    const std::string_view unit = s.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      // A bare number means seconds, but only on its own: in "1h30" the 30 is ambiguous.
      if (num_start == 0 && pos == s.size()) {
        if (__builtin_mul_overflow(value, int64_t{1000}, &total)) return fail("number too large");
        break;
      }
      if (pos == s.size()) return fail(fmt::format("missing unit after \"{}\"", s.substr(num_start)));
      return fail(fmt::format("unexpected character '{}' at position {}", s[pos], pos));
    }

    std::size_t u = 0;
    while (u < std::size(kUnits) && kUnits[u].name != unit) ++u;
    if (u == std::size(kUnits)) {
      return fail(fmt::format("unknown unit \"{}\" (use ms, s, m, h or d)", unit));
    }
    if (u < next_unit) {
      return fail(fmt::format("unit \"{}\" repeated or out of order (largest unit first, e.g. 1h30m)", unit));
    }
    next_unit = u + 1;
    int64_t part;
    if (__builtin_mul_overflow(value, kUnits[u].ms, &part) || __builtin_add_overflow(total, part, &total)) {
      return fail("duration too large");
    }
  }
  return std::chrono::milliseconds(total);
}

}  // namespace ringpost::queue
