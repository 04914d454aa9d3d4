// RFC 3339 §5.6 date-time parsing, for send_at. Pure; any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

// "2026-11-26T08:00:00Z", "2026-11-26T08:00:00.250Z", "2026-11-26T09:00:00+01:00" → Unix
// milliseconds (UTC). Fractional seconds beyond milliseconds are truncated; a leap second
// (":60") counts as the next second's start. "T" and "Z" may be lower case (RFC 3339 §5.6
// note); the date and time must be complete and in range (no 02-30, no 24:00). The error is a
// short static reason.
tl::expected<int64_t, std::string_view> parse_rfc3339(std::string_view s);

}  // namespace ringpost::api
