// JSON string output, RFC 8259 §7. Invariant: whatever the input bytes, the output is one
// well-formed JSON string; ill-formed UTF-8 becomes U+FFFD rather than invalid JSON.
#pragma once

#include <string>
#include <string_view>

namespace ringpost::api {

// Appends `s` to `out` as a quoted JSON string: '"' and '\\' escaped, control characters as
// \b \f \n \r \t or \u00XX, well-formed UTF-8 copied through unchanged.
void append_json_string(std::string& out, std::string_view s);

}  // namespace ringpost::api
