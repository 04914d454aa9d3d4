// Live progress for long runs (`ringpost demo`): about once a second, "done/total" and the rate
// over the last interval. Sans-IO: the caller passes the time and prints the line, so the
// cadence and the arithmetic are unit-tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ringpost::engine {

class ProgressMeter {
 public:
  using Clock = std::chrono::steady_clock;
  // `what`: the counted thing, e.g. "submitted", "delivered".
  ProgressMeter(std::string what, uint64_t total, Clock::time_point start)
      : what_(std::move(what)), total_(total), start_(start), last_at_(start) {}

  // A line when at least `every` has passed since the previous one (or since the start).
  std::optional<std::string> tick(uint64_t done, Clock::time_point now,
                                  std::chrono::milliseconds every = std::chrono::seconds(1));
  // The closing line, whatever the time: the average rate over the whole run.
  std::string finish(uint64_t done, Clock::time_point now) const;

 private:
  std::string what_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_at_;
  uint64_t last_done_ = 0;
};

}  // namespace ringpost::engine
