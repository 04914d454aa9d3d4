// Which spool segment an Idempotency-Key's first answer would be rebuilt from after a restart
// (the segment with the request's ACCEPT records, or with the IDEMPOTENT record that carried
// the answer forward). Before a segment is deleted, the unexpired answers homed in it are
// written forward (docs/spool.md): otherwise a retry after a restart, within the key's 24 h,
// would be sent again. Front thread only; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ringpost::engine {

class IdempotencyHomes {
 public:
  // The answer for (owner, key) now lives in segment seq (replaces an older home).
  void note(const std::string& owner, const std::string& key, uint32_t seq);
  // (owner, key) of every answer homed in seq, in no particular order.
  std::vector<std::pair<std::string, std::string>> homed_in(uint32_t seq) const;
  // seq is gone: whatever is still homed there (expired answers) is forgotten.
  void forget_segment(uint32_t seq);
  std::size_t size() const { return home_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> home_;  // slot (owner '\n' key) → seq
  std::map<uint32_t, std::unordered_set<std::string>> by_segment_;
};

}  // namespace ringpost::engine
