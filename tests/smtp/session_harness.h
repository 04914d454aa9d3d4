// Drives a ClientSession (and, separately, a ReplyParser) from an arbitrary byte string, as a
// fuzzer produces, and checks the invariants that must hold whatever the server sends. Shared by
// the bounded fuzz test in smtp_tests and the libFuzzer targets in tests/fuzz. Test-only; no
// state between calls. Invariant: a returned "" means every check passed.
//
// Session script format (seed files in tests/data/fuzz/session/ are readable this way):
//   byte 0        flags, low 4 bits: bits 0-1 TLS mode (0 off, 1 opportunistic, 2 required,
//                 3 opportunistic), bit 2 use_chunking = false, bit 3 the TLS handshake fails.
//                 ASCII '0'..'?' spell 0..15.
//   then records separated by 0x1E. A record is fed to on_bytes() in one call, unless it
//   starts with 0x1F, then its next byte is a driver event: 't' on_timeout(), 'c' on_closed(),
//   'q' quit(). Empty records are skipped.
// The harness plays a simple driver: it writes all output at once after every call, submits
// six canned envelopes one after the other whenever the session is ready (then quits), and
// completes (or fails, per bit 3) every TLS handshake the session asks for. At the end it
// calls on_closed().
#pragma once

#include <string>
#include <string_view>

namespace ringpost::smtp::testing {

inline constexpr char kRecordSeparator = '\x1e';
inline constexpr char kEventMark = '\x1f';

struct SessionRunStats {
  int delivered = 0;         // recipients delivered over the whole run
  bool tls_started = false;  // on_tls_ready() was called
  bool bdat_sent = false;    // some "BDAT " went out
  std::string wire;          // everything the client wrote, for failure reports
};

// Returns "" or the first violated invariant.
std::string run_session_script(std::string_view script, SessionRunStats* stats = nullptr);

// Feeds `bytes` to a ReplyParser whole, byte by byte (inputs up to 1 kB), and in chunks whose
// sizes come from the bytes themselves; checks the consumed-count contract, reply sanity, sticky errors, and that
// all three feeds yield the same replies and the same error status.
std::string check_reply_parser(std::string_view bytes);

}  // namespace ringpost::smtp::testing
