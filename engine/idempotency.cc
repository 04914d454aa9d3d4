// See idempotency.h.
#include "engine/idempotency.h"

namespace ringpost::engine {

void LocalIdempotencyStore::expire(int64_t now_ms) {
  while (!expiry_.empty() && expiry_.front().first <= now_ms) {
    auto it = entries_.find(expiry_.front().second);
    // A key re-used after its first answer expired has a later expiry: keep that one.
    if (it != entries_.end() && it->second.expires_at_ms <= now_ms) entries_.erase(it);
    expiry_.pop_front();
  }
}

const IdempotentAnswer* LocalIdempotencyStore::find(const std::string& owner, const std::string& key, int64_t now_ms) {
  expire(now_ms);
  auto it = entries_.find(slot(owner, key));
  return it == entries_.end() ? nullptr : &it->second;
}

void LocalIdempotencyStore::put(const std::string& owner, const std::string& key, IdempotentAnswer answer) {
  std::string s = slot(owner, key);
  expiry_.emplace_back(answer.expires_at_ms, s);
  entries_.insert_or_assign(std::move(s), std::move(answer));
}

void LocalIdempotencyStore::erase(const std::string& owner, const std::string& key) { entries_.erase(slot(owner, key)); }

}  // namespace ringpost::engine
