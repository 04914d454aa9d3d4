// ULID-layout message ids (github.com/ulid/spec): 10 base32 characters of time, 16 of random.
// One generator per thread, so no locking; threads differ by their random_device seeds, and
// 80 random bits make a collision between threads within one millisecond negligible.
#include "engine/api/message_id.h"

#include <algorithm>
#include <array>
#include <chrono>

namespace ringpost::api {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // no I, L, O, U
constexpr int64_t kMaxUlidMs = (int64_t{1} << 48) - 1;

}  // namespace

MessageIdGenerator::MessageIdGenerator() {
  // mt19937_64 has 19937 bits of state; seeding it from one 32-bit value would let two
  // threads collide far more often than 80 random bits suggest.
  std::random_device rd;
  std::array<std::random_device::result_type, 8> words;
  for (auto& w : words) w = rd();
  std::seed_seq seq(words.begin(), words.end());
  rng_.seed(seq);
}

MessageIdGenerator::MessageIdGenerator(uint64_t seed) : rng_(seed) {}

std::string MessageIdGenerator::next(int64_t unix_ms) {
  unix_ms = std::clamp<int64_t>(unix_ms, 0, kMaxUlidMs);
  if (unix_ms > last_ms_) {
    last_ms_ = unix_ms;
    random_hi_ = static_cast<uint16_t>(rng_());
    random_lo_ = rng_();
  } else if (++random_lo_ == 0 && ++random_hi_ == 0) {
    // All 80 bits wrapped (never in practice): borrow the next millisecond to stay increasing.
    last_ms_ = std::min(last_ms_ + 1, kMaxUlidMs);
  }

  std::string id(kMessageIdLength, '0');
  uint64_t t = static_cast<uint64_t>(last_ms_);
  for (int i = 9; i >= 0; --i, t >>= 5) id[i] = kCrockford[t & 31];
  // 80 random bits as 16 five-bit groups: the low 64 bits give 12 groups and 4 bits of the
  // 13th, whose last bit comes from random_hi_.
  uint64_t lo = random_lo_, hi = random_hi_;
  for (int i = 25; i >= 10; --i) {
    id[i] = kCrockford[lo & 31];
    lo = (lo >> 5) | (hi << 59);
    hi >>= 5;
  }
  return id;
}

std::string new_message_id() {
  thread_local MessageIdGenerator generator;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return generator.next(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

}  // namespace ringpost::api
