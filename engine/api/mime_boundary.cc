// Multipart boundary choice, RFC 2046 §5.1.1. The "=_" prefix cannot occur in quoted-printable
// output ('=' is always followed by hex digits or CRLF), so only 7bit parts can ever collide,
// and those are searched.
#include "engine/api/mime_boundary.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/api/ascii.h"

namespace ringpost::api {

std::string choose_boundary(std::string_view seed, std::span<const std::string_view> parts) {
  std::string base = "=_rp_";
  for (const char c : seed) {
    if (base.size() >= 56) break;  // leaves room for a "_NNN..." suffix within 70
    if (is_ascii_alnum(static_cast<unsigned char>(c))) base.push_back(c);
  }
  for (unsigned attempt = 0;; ++attempt) {
    std::string boundary = attempt == 0 ? base : fmt::format("{}_{}", base, attempt);
    const std::string delimiter = "--" + boundary;
    const bool collides = std::any_of(parts.begin(), parts.end(), [&](std::string_view p) {
      return p.find(delimiter) != std::string_view::npos;
    });
    // Terminates: each attempt is a distinct string, and finitely many occur in the parts.
    if (!collides) return boundary;
  }
}

}  // namespace ringpost::api
