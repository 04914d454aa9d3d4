// See token_bucket.h.
#include "queue/token_bucket.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace ringpost::queue {

tl::expected<double, std::string> parse_rate(std::string_view text) {
  std::string_view number = text, unit = "s";
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    number = text.substr(0, slash);
    unit = text.substr(slash + 1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || !(value > 0) || !std::isfinite(value))
    return tl::make_unexpected(
        fmt::format("'{}' is not a rate: expected a positive number, optionally per s, min or h, like \"300/min\"", text));
  if (unit == "s" || unit == "sec" || unit == "second") return value;
  if (unit == "m" || unit == "min" || unit == "minute") return value / 60;
  if (unit == "h" || unit == "hour") return value / 3600;
  return tl::make_unexpected(fmt::format("'{}' is not a rate: the unit after '/' must be s, min or h", text));
}

std::string format_rate(double per_second) {
  if (per_second >= 1 || per_second <= 0) return fmt::format("{:g}/s", per_second);
  if (per_second * 60 >= 1) return fmt::format("{:g}/min", per_second * 60);
  return fmt::format("{:g}/h", per_second * 3600);
}

void TokenBucket::set_rate(std::optional<double> per_second, int64_t now_ms, double capacity) {
  refill(now_ms);
  const bool was_limited = limited_;
  limited_ = per_second.has_value();
  if (!limited_) return;
  rate_ = *per_second;
  // Room for one token plus what accrues while the caller waits for its next wake-up (up to
  // 100 ms): with room for exactly one, the time a full bucket could not bank would be lost
  // at every tick, and 11/s would come out near 9.8/s.
  capacity_ = capacity > 0 ? capacity : std::max(1.0 + rate_ * 0.1, rate_ / 10);
  // A bucket that was unlimited starts full only when asked for a burst: a fresh API key may
  // use its burst at once; a destination starts with one token (no burst at the start).
  tokens_ = !was_limited && capacity > 0 ? capacity_ : std::min(tokens_, capacity_);
}

void TokenBucket::refill(int64_t now_ms) {
  if (now_ms > last_ms_ && limited_)
    tokens_ = std::min(capacity_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
  last_ms_ = std::max(last_ms_, now_ms);
}

bool TokenBucket::try_take(int64_t now_ms) {
  if (!limited_) return true;
  refill(now_ms);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

int64_t TokenBucket::next_token_at_ms(int64_t now_ms) {
  if (!limited_) return now_ms;
  refill(now_ms);
  if (tokens_ >= 1) return now_ms;
  return now_ms + static_cast<int64_t>(std::ceil((1 - tokens_) * 1000.0 / rate_));
}

}  // namespace ringpost::queue
