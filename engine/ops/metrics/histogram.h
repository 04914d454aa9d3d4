// A fixed-bucket histogram of durations in seconds, as Prometheus wants them: counts per
// upper bound, a sum and a count. Owned and written by one thread (the front), which also
// renders it, so it needs no atomics. Bounds are fixed at construction: buckets that moved
// between scrapes would make histogram_quantile() over a range meaningless.
#pragma once

#include <cstdint>
#include <vector>

namespace ringpost::engine {

class Histogram {
 public:
  // bounds: strictly increasing upper bounds; +Inf is implied after the last.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size() is the +Inf bucket.
  uint64_t bucket(std::size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

  // Bounds for request-scale latencies (fdatasync, submit): 100 µs to 10 s.
  static std::vector<double> request_bounds();
  // Bounds for delivery-scale latencies (submit to delivered): 10 ms to a day.
  static std::vector<double> delivery_bounds();

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace ringpost::engine
