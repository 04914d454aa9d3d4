// Multipart boundary choice, RFC 2046 §5.1.1: the boundary delimiter must not occur in any
// encapsulated part. Deterministic for a given seed and parts, so rendering is reproducible.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ringpost::api {

// "=_rp_<seed>" (seed reduced to letters and digits), with "_1", "_2", ... appended until
// "--" + boundary occurs in none of `parts`. At most 70 characters (RFC 2046 §5.1.1).
std::string choose_boundary(std::string_view seed, std::span<const std::string_view> parts);

}  // namespace ringpost::api
