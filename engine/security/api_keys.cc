// See api_keys.h.
#include "engine/security/api_keys.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cmath>

#include <fmt/format.h>

#include "engine/security/secret.h"

namespace ringpost::engine {

std::string sha256_hex(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) out += fmt::format("{:02x}", b);
  return out;
}

int print_new_api_key(const std::string& name, const std::string& role) {
  unsigned char raw[24];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    fmt::print(stderr, "ringpost: no randomness for a key (RAND_bytes failed)\n");
    return 1;
  }
  // URL-safe alphabet: the token goes into headers and shell variables unquoted.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "rp_";
  for (unsigned char b : raw) token += kAlphabet[b % 64];
  fmt::print("token (shown once; give it to the agent, keep it out of the config):\n{}\n\n", token);
  fmt::print("add to the config, then reload (kill -HUP):\n[[keys]]\nname = \"{}\"\nsha256 = \"{}\"\nrole = \"{}\"\n"
             "# allowed_from = [\"example.test\", \"*.agents.example.test\"]\n# rate = \"100/s\"\n",
             name, sha256_hex(token), role);
  return 0;
}

KeyRing::KeyRing(const std::vector<ApiKey>& keys) {
  for (const ApiKey& k : keys) by_hash_.emplace(k.sha256_hex, k);
}

const ApiKey* KeyRing::authenticate(std::string_view authorization) const {
  const auto token = bearer_token(authorization);
  if (!token) return nullptr;
  auto it = by_hash_.find(sha256_hex(*token));
  return it == by_hash_.end() ? nullptr : &it->second;
}

bool sender_allowed(const ApiKey& key, std::string_view domain) { return domain_allowed(key.allowed_from, domain); }

bool domain_allowed(const std::vector<std::string>& allowed_from, std::string_view domain) {
  if (allowed_from.empty()) return true;
  for (const std::string& a : allowed_from) {
    if (a.starts_with("*.")) {
      std::string_view parent = std::string_view(a).substr(1);  // ".example.test"
      if (domain.size() > parent.size() && domain.ends_with(parent)) return true;
    } else if (domain == a) {
      return true;
    }
  }
  return false;
}

RateDecision LocalRequestLimiter::take(const ApiKey& key, int64_t now_ms) {
  RateDecision d;
  if (!key.rate) return d;
  d.limited = true;
  queue::TokenBucket& b = buckets_[key.name];
  const double capacity = key.burst ? key.burst : std::max(1.0, *key.rate);
  if (b.rate() != key.rate || b.capacity() != capacity) b.set_rate(key.rate, now_ms, capacity);
  d.allowed = b.try_take(now_ms);
  d.limit = static_cast<uint64_t>(capacity);
  const double left = b.available(now_ms);
  d.remaining = static_cast<uint64_t>(std::floor(left));
  d.reset_s = static_cast<uint64_t>(std::ceil((capacity - left) / *key.rate));
  if (!d.allowed) d.retry_after_s = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil((1 - left) / *key.rate)));
  return d;
}

std::string rate_limit_headers(const RateDecision& d) {
  if (!d.limited) return {};
  std::string h = fmt::format("RateLimit-Limit: {}\r\nRateLimit-Remaining: {}\r\nRateLimit-Reset: {}\r\n", d.limit,
                              d.remaining, d.reset_s);
  if (!d.allowed) h += fmt::format("Retry-After: {}\r\n", d.retry_after_s);
  return h;
}

}  // namespace ringpost::engine
