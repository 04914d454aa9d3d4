// UTF-8 well-formedness, RFC 3629 §4. The JSON parser already rejects ill-formed UTF-8; these
// guard the functions that may also be called with strings from elsewhere (escaping, encoded-words).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringpost::api {

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 when `s` is empty or starts
// with an ill-formed one (stray continuation byte, overlong form, surrogate, > U+10FFFF, truncated).
std::size_t utf8_char_length(std::string_view s);

bool is_valid_utf8(std::string_view s);

}  // namespace ringpost::api
