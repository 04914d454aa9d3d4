// Line-ending normalisation to CRLF, the only line ending RFC 5321 §2.3.8 and RFC 5322 §2.1
// allow on the wire. Invariant of to_crlf's output: every CR and every LF is part of a CRLF pair.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringpost::api {

// Length of the line break starting at s[i]: 2 for CRLF, 1 for a lone CR or LF, 0 for none.
std::size_t line_break_at(std::string_view s, std::size_t i);

// Every line break (CRLF, lone LF, lone CR) becomes CRLF; all other bytes are kept as they are.
std::string to_crlf(std::string_view s);

}  // namespace ringpost::api
