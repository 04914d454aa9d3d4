// Base64, RFC 4648 §4 (the standard alphabet, with padding): the encoder for RFC 2045 §6.8
// bodies (76-column lines) and RFC 2047 "B" encoded-words, and the strict decoder for
// attachment content in API requests. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

// Appends base64(in) to out as one unbroken run.
void append_base64(std::string& out, std::string_view in);

// base64(in) in lines of at most `line_length` characters (a multiple of 4), joined by CRLF,
// with no CRLF after the last line. RFC 2045 §6.8 allows at most 76.
std::string base64_lines(std::string_view in, std::size_t line_length = 76);

// Length of base64_lines(in) for an input of n octets, without encoding anything.
std::size_t base64_lines_size(std::size_t n, std::size_t line_length = 76);

// Upper bound on the decoded size of `in` (before validation), for cheap early size checks.
inline std::size_t base64_decoded_size_bound(std::size_t encoded_length) { return encoded_length / 4 * 3 + 3; }

// Strict RFC 4648 decoding. CR, LF, SP and TAB are skipped anywhere (clients often send
// 76-column MIME-style base64); everything else must be the standard alphabet, padded to a
// multiple of 4 with at most two '=' at the end, and the unused bits of the last group must be
// zero (RFC 4648 §3.5), so each byte string has exactly one accepted encoding. The error is a
// sentence naming the first problem and its offset.
tl::expected<std::string, std::string> base64_decode(std::string_view in);

}  // namespace ringpost::api
