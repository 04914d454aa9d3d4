// See site_labels.h.
#include "engine/ops/metrics/site_labels.h"

namespace ringpost::engine {

const std::string& SiteLabels::label(const std::string& site) {
  if (auto it = admitted_.find(site); it != admitted_.end()) return *it;
  if (admitted_.size() >= limit_) return other_;
  return *admitted_.insert(site).first;
}

}  // namespace ringpost::engine
