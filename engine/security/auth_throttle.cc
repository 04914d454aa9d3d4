// See auth_throttle.h. A fixed window per address rather than a sliding one: the bound is "at
// most 2 × max_failures guesses per window", which is what matters against guessing a 256-bit
// token, at one counter per address.
#include "engine/security/auth_throttle.h"

#include <fmt/format.h>

#include <algorithm>

namespace ringpost::engine {

bool AuthThrottle::refused(std::string_view source, int64_t now_ms) {
  if (cfg_.max_failures == 0) return false;
  auto it = by_source_.find(std::string(source));
  if (it == by_source_.end()) return false;
  if (now_ms - it->second.start_ms >= cfg_.window_ms) {
    by_source_.erase(it);
    return false;
  }
  if (it->second.failures < cfg_.max_failures) return false;
  ++refused_total_;
  ++refused_since_log_;
  if (refused_sources_since_log_.size() < cfg_.max_sources) refused_sources_since_log_.emplace(source);
  return true;
}

void AuthThrottle::failed(std::string_view source, int64_t now_ms) {
  ++failures_total_;
  if (cfg_.max_failures == 0) return;
  auto it = by_source_.find(std::string(source));
  if (it != by_source_.end() && now_ms - it->second.start_ms >= cfg_.window_ms) {
    it->second = Window{now_ms, 0};
  }
  if (it == by_source_.end()) {
    if (by_source_.size() >= cfg_.max_sources) make_room(now_ms);
    it = by_source_.emplace(std::string(source), Window{now_ms, 0}).first;
  }
  ++it->second.failures;
}

int64_t AuthThrottle::retry_after_s(std::string_view source, int64_t now_ms) const {
  auto it = by_source_.find(std::string(source));
  if (it == by_source_.end()) return 1;
  const int64_t left_ms = it->second.start_ms + cfg_.window_ms - now_ms;
  return std::max<int64_t>(1, (left_ms + 999) / 1000);
}

void AuthThrottle::make_room(int64_t now_ms) {
  for (auto it = by_source_.begin(); it != by_source_.end();) {
    if (now_ms - it->second.start_ms >= cfg_.window_ms) it = by_source_.erase(it);
    else ++it;
  }
  if (by_source_.size() < cfg_.max_sources) return;
  auto oldest = std::min_element(by_source_.begin(), by_source_.end(),
                                 [](const auto& a, const auto& b) { return a.second.start_ms < b.second.start_ms; });
  by_source_.erase(oldest);
}

std::optional<std::string> AuthThrottle::take_log_line(int64_t now_ms) {
  if (refused_since_log_ == 0 || now_ms - last_log_ms_ < cfg_.window_ms) return std::nullopt;
  std::string line = fmt::format("auth throttle: {} request{} refused (429) from {} address{} after {} failed authentications a minute",
                                 refused_since_log_, refused_since_log_ == 1 ? "" : "s", refused_sources_since_log_.size(),
                                 refused_sources_since_log_.size() == 1 ? "" : "es", cfg_.max_failures);
  refused_since_log_ = 0;
  refused_sources_since_log_.clear();
  last_log_ms_ = now_ms;
  return line;
}

}  // namespace ringpost::engine
