// Comparing and extracting secrets: bearer tokens, the admin token, the webhooks' internal
// token. Pure functions, any thread. Invariant: no comparison of a secret returns early on the
// first differing byte, so response timing says nothing about how much of a guess was right.
#pragma once

#include <optional>
#include <string_view>

namespace ringpost::engine {

// The token of "Authorization: Bearer <token>". RFC 9110 §11.1: the scheme is
// case-insensitive ("bearer", "BEARER"); one or more spaces follow it. nullopt when the header
// is absent, has another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Constant time in the contents and in the lengths: both sides are hashed (SHA-256) and the
// digests compared with CRYPTO_memcmp, so neither a shared prefix nor the length leaks.
bool secret_equals(std::string_view a, std::string_view b);

}  // namespace ringpost::engine
