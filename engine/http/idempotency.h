// Idempotency-Key (docs/api.md): the same key and the same request body within 24 h get the
// first answer again (same ids, nothing sent twice); the same key with another body is a
// conflict. Keys are per API key (owner). Behind an interface so nodes behind a load balancer
// can share the store through Redis (SET NX with a TTL per key) without the front changing;
// the local store is a map on the front thread, rebuilt from the spool at start-up, and bounded
// ([limits] idempotency_max_keys / idempotency_max_bytes, docs/security.md "Stored state").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

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

struct IdempotencyLimits {
  std::size_t max_keys = 1'000'000;
  uint64_t max_bytes = uint64_t{512} << 20;  // estimated: see LocalIdempotencyStore::bytes()
};

// Past either cap, put() evicts the oldest answers (earliest expiry; every key lives 24 h, so
// the first stored) until under both. An evicted key is forgotten early: a retry with it is
// accepted as a new request. Never evicted: a request still being spooled (status 0; there are
// at most as many as requests in flight, and dropping one would let its retry in twice), and
// the entry just stored, so one answer larger than the byte cap is still kept.
class LocalIdempotencyStore : public IdempotencyStore {
 public:
  // Called once per evicted key with "idempotency_max_keys" or "idempotency_max_bytes".
  using LimitHit = std::function<void(std::string_view limit)>;

  LocalIdempotencyStore() = default;
  explicit LocalIdempotencyStore(IdempotencyLimits limits, LimitHit on_limit = {})
      : limits_(limits), on_limit_(std::move(on_limit)) {}

  const IdempotentAnswer* find(const std::string& owner, const std::string& key, int64_t now_ms) override;
  void put(const std::string& owner, const std::string& key, IdempotentAnswer answer) override;
  void erase(const std::string& owner, const std::string& key) override;
  std::size_t size() const { return entries_.size(); }
  // Estimated memory held: the key (twice: map and age index), hash and answer bytes plus a
  // fixed cost per entry.
  uint64_t bytes() const { return bytes_; }
  uint64_t evictions() const { return evictions_; }
  static uint64_t entry_bytes(std::string_view owner, std::string_view key, const IdempotentAnswer& a);

 private:
  using Age = std::pair<int64_t, uint64_t>;  // (expires_at_ms, insertion number): oldest first
  struct Entry {
    IdempotentAnswer answer;
    Age age;
    uint64_t bytes = 0;
  };
  static std::string slot(const std::string& owner, const std::string& key) { return owner + '\n' + key; }
  void expire(int64_t now_ms);
  void remove(std::unordered_map<std::string, Entry>::iterator it);
  void make_room(const std::string& keep);

  IdempotencyLimits limits_;
  LimitHit on_limit_;
  std::unordered_map<std::string, Entry> entries_;
  std::map<Age, std::string> by_age_;  // → slot
  uint64_t next_age_ = 0;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ringpost::engine
