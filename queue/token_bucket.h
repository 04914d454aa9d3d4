// Rate limits for one destination: a token bucket fed by the caller's clock (no clock read
// here), and the parser for the config's rate strings. Owned by the shard that owns the
// destination, so it needs no lock: a site lives on one shard, which is what makes the limit
// exact over all traffic to that destination.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::queue {

// "50" or "50/s", "300/min", "3600/h", "2.5/s": per second. Errors name the text.
tl::expected<double, std::string> parse_rate(std::string_view text);
// 300/min → "5/s"; 0.5 → "30/min": for showing limits back to operators.
std::string format_rate(double per_second);

class TokenBucket {
 public:
  // nullopt: unlimited. The capacity (burst) is a tenth of a second's worth plus one token:
  // enough that a loop waking every 50 ms loses nothing, small enough that a 10 s window sees
  // the rate within a few percent.
  void set_rate(std::optional<double> per_second, int64_t now_ms, double capacity = 0);  // 0: the default burst
  std::optional<double> rate() const { return limited_ ? std::optional<double>(rate_) : std::nullopt; }
  bool try_take(int64_t now_ms);
  // When the next token will be there (now_ms when one is).
  int64_t next_token_at_ms(int64_t now_ms);
  // Whole tokens there now, and the bucket's size.
  double available(int64_t now_ms) {
    refill(now_ms);
    return tokens_;
  }
  double capacity() const { return capacity_; }

 private:
  void refill(int64_t now_ms);

  bool limited_ = false;
  double rate_ = 0;
  double capacity_ = 1;
  double tokens_ = 1;
  int64_t last_ms_ = 0;
};

}  // namespace ringpost::queue
