// Message ids: 26 characters, ULID layout (48-bit Unix milliseconds, then 80 random bits, in
// Crockford base32), so ids sort by creation time. Invariant: ids from one generator strictly
// increase, even when the clock stalls or steps back. Not secrets: do not use them as tokens.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace ringpost::api {

inline constexpr std::size_t kMessageIdLength = 26;

class MessageIdGenerator {
 public:
  MessageIdGenerator();                        // seeded from std::random_device
  explicit MessageIdGenerator(uint64_t seed);  // reproducible sequence, for tests

  // The next id for time `unix_ms`. Within one millisecond, or if `unix_ms` is earlier than
  // the last id's time, the previous id's random part is incremented instead (ULID monotonicity).
  std::string next(int64_t unix_ms);

 private:
  std::mt19937_64 rng_;
  int64_t last_ms_ = -1;
  uint16_t random_hi_ = 0;  // the 80 random bits: 16 high ...
  uint64_t random_lo_ = 0;  // ... and 64 low
};

// A new id from this thread's generator and the system clock.
std::string new_message_id();

}  // namespace ringpost::api
