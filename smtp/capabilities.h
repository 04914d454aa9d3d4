// The ESMTP extensions a server offered in its EHLO reply (RFC 5321 §4.1.1.1, §2.2.2).
// Plain data, built once per connection by ClientSession. Invariant: all false / nullopt after
// HELO or an EHLO that listed nothing, i.e. "assume plain RFC 5321 only".
#pragma once

#include <cstddef>
#include <optional>

#include "smtp/reply.h"

namespace ringpost::smtp {

struct Capabilities {
  bool pipelining = false;           // RFC 2920
  bool chunking = false;             // RFC 3030 (BDAT)
  bool starttls = false;             // RFC 3207
  bool smtputf8 = false;             // RFC 6531
  bool eightbitmime = false;         // RFC 6152
  bool enhancedstatuscodes = false;  // RFC 2034
  bool dsn = false;                  // RFC 3461
  // RFC 1870: nullopt = SIZE not offered; 0 = offered without a fixed limit ("SIZE" or
  // "SIZE 0", or a number we could not read); otherwise the server's maximum message size.
  std::optional<std::size_t> size;

  bool operator==(const Capabilities&) const = default;
};

// Reads a 2xx EHLO reply whose text is the lines joined by '\n' (as ReplyParser builds it).
// The first line is the server's domain and greeting, not a keyword, so it is skipped.
// Keywords are matched case-insensitively; unknown ones are ignored.
Capabilities parse_capabilities(const Reply& ehlo_reply);

}  // namespace ringpost::smtp
