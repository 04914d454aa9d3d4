// When to try a deferred recipient again: a fixed back-off schedule bounded by a maximum message
// age. Immutable after construction, so one instance may be shared read-only by all shards.
// Invariant: no attempt is ever scheduled later than created_at + max_age.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringpost::queue {

class RetryPolicy {
 public:
  static constexpr double kJitter = 0.10;
  // schedule[i] is the delay after the (i+1)-th failed attempt; the last entry repeats.
  // Negative entries are treated as 0. An empty schedule means "never retry".
  RetryPolicy(std::vector<std::chrono::milliseconds> schedule, std::chrono::milliseconds max_age);

  // Absolute time (epoch ms) of the next attempt after `attempts` failed attempts (counting
  // from 1; 0 is treated as 1): now_ms + delay. nullopt when the message would be older than
  // max_age at that time (age == max_age is still allowed) or the schedule is empty; the caller
  // then expires the recipient.
  // `jitter` in [-1, 1] stretches the delay by up to ±10 % (the caller draws it at random), so
  // recipients deferred together by one outage do not all come back in the same instant.
  std::optional<int64_t> next_attempt_at_ms(uint32_t attempts, int64_t created_at_ms, int64_t now_ms,
                                            double jitter = 0) const;

  const std::vector<std::chrono::milliseconds>& schedule() const { return schedule_; }
  std::chrono::milliseconds max_age() const { return max_age_; }

 private:
  std::vector<std::chrono::milliseconds> schedule_;
  std::chrono::milliseconds max_age_;
};

}  // namespace ringpost::queue
