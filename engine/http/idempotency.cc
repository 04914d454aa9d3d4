// See idempotency.h.
#include "engine/http/idempotency.h"

namespace ringpost::engine {

namespace {
// The entry and answer objects, the hash-map node and bucket, and the age index's node.
constexpr uint64_t kEntryCost = 2 * sizeof(std::string) + sizeof(IdempotentAnswer) + 128;
}  // namespace

uint64_t LocalIdempotencyStore::entry_bytes(std::string_view owner, std::string_view key, const IdempotentAnswer& a) {
  return kEntryCost + 2 * (owner.size() + 1 + key.size()) + a.request_hash.size() + a.body.size();
}

void LocalIdempotencyStore::remove(std::unordered_map<std::string, Entry>::iterator it) {
  by_age_.erase(it->second.age);
  bytes_ -= it->second.bytes;
  entries_.erase(it);
}

void LocalIdempotencyStore::expire(int64_t now_ms) {
  while (!by_age_.empty() && by_age_.begin()->first.first <= now_ms) remove(entries_.find(by_age_.begin()->second));
}

const IdempotentAnswer* LocalIdempotencyStore::find(const std::string& owner, const std::string& key, int64_t now_ms) {
  expire(now_ms);
  auto it = entries_.find(slot(owner, key));
  return it == entries_.end() ? nullptr : &it->second.answer;
}

void LocalIdempotencyStore::put(const std::string& owner, const std::string& key, IdempotentAnswer answer) {
  std::string s = slot(owner, key);
  if (auto old = entries_.find(s); old != entries_.end()) remove(old);
  Entry e;
  e.bytes = entry_bytes(owner, key, answer);
  e.age = {answer.expires_at_ms, next_age_++};
  e.answer = std::move(answer);
  bytes_ += e.bytes;
  by_age_.emplace(e.age, s);
  entries_.emplace(s, std::move(e));
  make_room(s);
}

void LocalIdempotencyStore::make_room(const std::string& keep) {
  auto it = by_age_.begin();
  while (it != by_age_.end()) {
    const char* limit = entries_.size() > limits_.max_keys ? "idempotency_max_keys"
                        : bytes_ > limits_.max_bytes        ? "idempotency_max_bytes"
                                                            : nullptr;
    if (!limit) return;
    auto victim = entries_.find(it->second);
    ++it;  // remove() erases only the victim's node of by_age_
    if (victim->first == keep || victim->second.answer.status == 0) continue;
    remove(victim);
    ++evictions_;
    if (on_limit_) on_limit_(limit);
  }
}

void LocalIdempotencyStore::erase(const std::string& owner, const std::string& key) {
  if (auto it = entries_.find(slot(owner, key)); it != entries_.end()) remove(it);
}

}  // namespace ringpost::engine
