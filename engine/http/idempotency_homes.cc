#include "engine/http/idempotency_homes.h"

namespace ringpost::engine {

namespace {
// Owners are key names from the config and keys are visible ASCII: neither holds a newline.
std::string slot(const std::string& owner, const std::string& key) { return owner + '\n' + key; }
}  // namespace

void IdempotencyHomes::note(const std::string& owner, const std::string& key, uint32_t seq) {
  std::string s = slot(owner, key);
  auto [it, fresh] = home_.try_emplace(s, seq);
  if (!fresh) {
    if (it->second == seq) return;
    if (auto old = by_segment_.find(it->second); old != by_segment_.end()) {
      old->second.erase(s);
      if (old->second.empty()) by_segment_.erase(old);
    }
    it->second = seq;
  }
  by_segment_[seq].insert(std::move(s));
}

std::vector<std::pair<std::string, std::string>> IdempotencyHomes::homed_in(uint32_t seq) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = by_segment_.find(seq);
  if (it == by_segment_.end()) return out;
  out.reserve(it->second.size());
  for (const std::string& s : it->second) {
    const auto nl = s.find('\n');
    out.emplace_back(s.substr(0, nl), s.substr(nl + 1));
  }
  return out;
}

void IdempotencyHomes::forget_segment(uint32_t seq) {
  auto it = by_segment_.find(seq);
  if (it == by_segment_.end()) return;
  for (const std::string& s : it->second) home_.erase(s);
  by_segment_.erase(it);
}

}  // namespace ringpost::engine
