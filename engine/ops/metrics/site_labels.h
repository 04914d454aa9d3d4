// Bounded cardinality for the `site` label: the first `limit` distinct sites keep their own
// label for the life of the process; every later one is counted under "other". Owned by one
// thread (the front, or one shard for its own slots).
//
// Why first seen rather than a re-ranked top-N: a counter series must never go down, and a
// site that moved from "other" to its own label (or back) would take its history with it,
// breaking rate() on both series. Busy sites are in practice among the first few seen; the
// limit (server.metrics_top_sites) is what the operator tunes.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>

namespace ringpost::engine {

class SiteLabels {
 public:
  static constexpr const char* kOther = "other";

  explicit SiteLabels(std::size_t limit) : limit_(limit) {}

  // The label to count `site` under: the site itself if it has (or now gets) a place, else "other".
  const std::string& label(const std::string& site);
  std::size_t admitted() const { return admitted_.size(); }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::unordered_set<std::string> admitted_;
  const std::string other_ = kOther;
};

}  // namespace ringpost::engine
