// The steps of an SMTP conversation at which the client waits for the server, with the time
// RFC 5321 §4.5.3.2 lets each take. Plain data; any thread. The session reports the current one
// (ClientSession::awaiting()); the driver, which owns the clock, turns it into a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace ringpost::smtp {

enum class Phase : uint8_t {
  none,
  greeting,
  ehlo,
  helo,
  starttls,  // the reply to STARTTLS, and then the TLS handshake itself (state tls_handshake)
  mail,
  rcpt,
  data,      // DATA's 354
  bdat,      // the reply to "BDAT n LAST": the server answers after taking the whole message
  data_end,  // the reply to the final "."
  rset,
  quit,
};

// Also used in synthetic replies ("timeout waiting for RCPT reply"), hence command names.
std::string_view to_string(Phase p);

// RFC 5321 §4.5.3.2 minimums: greeting 5 min, MAIL 5, RCPT 5, DATA initiation 2, final dot 10.
// EHLO, HELO, STARTTLS (reply and handshake), RSET and QUIT have no RFC value and get the 5-min
// command value (Postfix's defaults for EHLO, STARTTLS and QUIT are the same). BDAT LAST gets
// the final dot's 10 min: its reply comes only once the server has processed the message, so a
// shorter limit would turn a slow accept into a deferral and then a duplicate delivery.
// Phase::none: 0, nothing is owed.
std::chrono::seconds default_timeout(Phase p);

// RFC 5321 §4.5.3.2.5 "data block": how long each send may take to make progress while the
// session has output pending (only message content is big enough for this to matter).
inline constexpr std::chrono::seconds kDataBlockTimeout{180};

}  // namespace ringpost::smtp
