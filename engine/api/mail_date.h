// The RFC 5322 §3.3 date-time for a Date: field, always in UTC ("+0000"). Pure: the caller
// passes the time in, so tests and rendering never depend on the wall clock.
#pragma once

#include <cstdint>
#include <string>

namespace ringpost::api {

// "Thu, 01 Jan 1970 00:00:00 +0000"
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace ringpost::api
