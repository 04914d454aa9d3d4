// Failed authentications per source address (docs/security.md "Failed authentication"): after
// `max_failures` in a window, the address is answered 429 without its credentials being looked
// at until the window ends, so a key cannot be guessed at line rate. One per HTTP front, on its
// thread; time is passed in (tested on a fake clock). Bounded: at most `max_sources` addresses
// are tracked; when full, expired windows go first, then the oldest window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace ringpost::engine {

struct AuthThrottleConfig {
  uint32_t max_failures = 20;   // [server] auth_failures_per_minute; 0 turns the throttle off
  int64_t window_ms = 60'000;
  std::size_t max_sources = 10'000;
};

class AuthThrottle {
 public:
  explicit AuthThrottle(AuthThrottleConfig cfg = {}) : cfg_(cfg) {}

  // Before authenticating a request from `source`: true means answer 429 now.
  bool refused(std::string_view source, int64_t now_ms);
  // A request from `source` failed authentication (401).
  void failed(std::string_view source, int64_t now_ms);
  // Seconds until `source`'s window ends (Retry-After), at least 1.
  int64_t retry_after_s(std::string_view source, int64_t now_ms) const;

  // At most once per window: "auth throttle: 57 requests refused from 2 addresses in the last
  // minute" when anything was refused since the last line; nullopt otherwise.
  std::optional<std::string> take_log_line(int64_t now_ms);

  uint64_t failures_total() const { return failures_total_; }
  uint64_t refused_total() const { return refused_total_; }
  std::size_t tracked() const { return by_source_.size(); }

 private:
  struct Window {
    int64_t start_ms = 0;
    uint32_t failures = 0;
  };
  void make_room(int64_t now_ms);

  AuthThrottleConfig cfg_;
  std::unordered_map<std::string, Window> by_source_;
  uint64_t failures_total_ = 0, refused_total_ = 0;
  uint64_t refused_since_log_ = 0;
  std::unordered_set<std::string> refused_sources_since_log_;  // bounded like by_source_
  int64_t last_log_ms_ = INT64_MIN / 2;
};

}  // namespace ringpost::engine
