// Idempotency-Key (docs/api.md): the same key and the same request body within 24 h get the
// first answer again (same ids, nothing sent twice); the same key with another body is a
// conflict. Keys are per API key (owner). Behind an interface so nodes behind a load balancer
// can share the store through Redis (SET NX with a TTL per key) without the front changing;
// the local store is a map on the front thread, rebuilt from the spool at start-up.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace ringpost::engine {

struct IdempotentAnswer {
  std::string request_hash;  // SHA-256 of the request body, hex
  int status = 0;            // 0 while the first request is still being spooled
  std::string body;
  int64_t expires_at_ms = 0;
};

class IdempotencyStore {
 public:
  static constexpr int64_t kTtlMs = 24 * 3600 * 1000;
  virtual ~IdempotencyStore() = default;
  virtual const IdempotentAnswer* find(const std::string& owner, const std::string& key, int64_t now_ms) = 0;
  // Records a request in progress (status 0) or its answer; replaces what was there.
  virtual void put(const std::string& owner, const std::string& key, IdempotentAnswer answer) = 0;
  virtual void erase(const std::string& owner, const std::string& key) = 0;
};

class LocalIdempotencyStore : public IdempotencyStore {
 public:
  const IdempotentAnswer* find(const std::string& owner, const std::string& key, int64_t now_ms) override;
  void put(const std::string& owner, const std::string& key, IdempotentAnswer answer) override;
  void erase(const std::string& owner, const std::string& key) override;
  std::size_t size() const { return entries_.size(); }

 private:
  static std::string slot(const std::string& owner, const std::string& key) { return owner + '\n' + key; }
  void expire(int64_t now_ms);
  std::unordered_map<std::string, IdempotentAnswer> entries_;
  std::deque<std::pair<int64_t, std::string>> expiry_;  // (expires_at, slot), oldest first
};

}  // namespace ringpost::engine
