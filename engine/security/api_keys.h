// API keys (docs/api.md "Keys"): which key a request carries, what it may send as, and how fast
// it may call. Front thread only. The request limiter is an interface so several nodes behind a
// load balancer can share per-key limits through Redis (a bucket leased in blocks) without the
// front changing; the local one keeps a token bucket per key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/config/config.h"
#include "queue/token_bucket.h"

namespace ringpost::engine {

class KeyRing {
 public:
  explicit KeyRing(const std::vector<ApiKey>& keys);
  bool enabled() const { return !by_hash_.empty(); }
  // The key whose token is in "Authorization: Bearer <token>", or nullptr. The token is hashed
  // and the hash looked up: no stored secret to compare, and no timing leak on the token.
  const ApiKey* authenticate(std::string_view authorization) const;

 private:
  std::unordered_map<std::string, ApiKey> by_hash_;
};

// May `key` send with a From address in `domain`? "example.test" allows exactly it;
// "*.example.test" allows its sub-domains (not itself).
bool sender_allowed(const ApiKey& key, std::string_view domain);
// The same rule over an allowed_from list (empty = any domain).
bool domain_allowed(const std::vector<std::string>& allowed_from, std::string_view domain);

// `ringpost key new NAME`: a random token (printed once, never stored) and the [[keys]] entry
// with its SHA-256. Returns the process exit status.
int print_new_api_key(const std::string& name, const std::string& role);

// SHA-256 of `token`, lower-case hex; what [[keys]] sha256 holds.
std::string sha256_hex(std::string_view token);

struct RateDecision {
  bool allowed = true;
  bool limited = false;     // the key has a rate at all (then the RateLimit-* headers apply)
  uint64_t limit = 0;       // bucket size
  uint64_t remaining = 0;   // after this request
  uint64_t reset_s = 0;     // seconds until the bucket is full again
  uint64_t retry_after_s = 0;  // when refused: seconds until one request fits
};

class RequestLimiter {
 public:
  virtual ~RequestLimiter() = default;
  virtual RateDecision take(const ApiKey& key, int64_t now_ms) = 0;
};

class LocalRequestLimiter : public RequestLimiter {
 public:
  RateDecision take(const ApiKey& key, int64_t now_ms) override;

 private:
  std::unordered_map<std::string, queue::TokenBucket> buckets_;  // by key name
};

// "RateLimit-Limit: 100\r\nRateLimit-Remaining: 99\r\nRateLimit-Reset: 1\r\n" (+ Retry-After
// when refused); empty for an unlimited key.
std::string rate_limit_headers(const RateDecision& d);

}  // namespace ringpost::engine
