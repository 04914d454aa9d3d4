// Retry schedule with a maximum age (retry_policy.h). Pure; any thread.
// Arithmetic on caller-supplied times is overflow-checked: garbage times expire, never wrap.
#include "queue/retry_policy.h"

#include <algorithm>

namespace ringpost::queue {

RetryPolicy::RetryPolicy(std::vector<std::chrono::milliseconds> schedule, std::chrono::milliseconds max_age)
    : schedule_(std::move(schedule)), max_age_(max_age) {
  for (auto& d : schedule_) d = std::max(d, std::chrono::milliseconds::zero());
}

std::optional<int64_t> RetryPolicy::next_attempt_at_ms(uint32_t attempts, int64_t created_at_ms,
                                                       int64_t now_ms, double jitter) const {
  if (schedule_.empty()) return std::nullopt;
  const std::size_t n = std::max<uint32_t>(attempts, 1);
  const int64_t base = schedule_[std::min(n, schedule_.size()) - 1].count();
  const double j = std::clamp(jitter, -1.0, 1.0) * kJitter;
  const int64_t delay = base + static_cast<int64_t>(static_cast<double>(base) * j);
  int64_t at;
  int64_t age;
  if (__builtin_add_overflow(now_ms, delay, &at)) return std::nullopt;
  if (__builtin_sub_overflow(at, created_at_ms, &age)) return std::nullopt;
  if (age > max_age_.count()) return std::nullopt;
  return at;
}

}  // namespace ringpost::queue
