// Nearest-rank percentiles of a sample. Pure function; any thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "bench/load/load_run.h"

namespace ringpost::load {

inline Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

}  // namespace ringpost::load
