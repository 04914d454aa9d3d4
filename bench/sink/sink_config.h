// What a `ringpost sink` SMTP session offers and which faults it injects, plus the counters the
// sessions of one server share. Plain data; set once before the server starts, then read-only
// except the counters, which only the server's thread writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringpost::sink {

struct SinkConfig {
  std::string hostname = "sink.ringpost.test";
  std::size_t max_message_size = 50u << 20;  // RFC 1870 SIZE advertised and enforced
  bool pipelining = true;                    // RFC 2920
  bool chunking = true;                      // RFC 3030 BDAT
  bool eightbitmime = true;                  // RFC 6152
  bool starttls = false;                     // RFC 3207; the driver needs a certificate for it

  // Fault injection, in percent of the commands concerned (each an independent draw per command).
  double rcpt_4xx_pct = 0;  // RCPT answered 450 4.2.0 ...
  double rcpt_5xx_pct = 0;  // RCPT answered 550 5.1.1 ...
  double data_4xx_pct = 0;  // end of DATA / BDAT LAST answered 451 4.3.0 ...
  double data_5xx_pct = 0;  // end of DATA / BDAT LAST answered 554 5.6.0 ...
  // After this many accepted messages on one connection, the next MAIL is answered 421 and the
  // connection closed (0 = never): a server's per-connection message limit.
  uint32_t reply_421_after = 0;
  // After this many accepted messages on one connection, the connection is closed right after the
  // last one's 250, without waiting for QUIT (0 = never): a server that goes away.
  uint32_t drop_after = 0;
};

// Totals across every session of one server. Sessions increment them as events happen.
struct SinkCounters {
  uint64_t messages = 0;             // accepted (250 after the content)
  uint64_t messages_rejected = 0;    // 4xx/5xx after the content (injected, or over SIZE)
  uint64_t recipients = 0;           // RCPT accepted
  uint64_t recipients_rejected = 0;  // RCPT answered 4xx/5xx (injected)
  uint64_t message_bytes = 0;        // content octets received (DATA: as on the wire, stuffing included)
  uint64_t replies_421 = 0;          // 421 sent (message limit, or refused over max connections)
  uint64_t drops = 0;                // connections closed by --drop-after
  uint64_t tls_started = 0;          // STARTTLS accepted (handshakes begun)
};

}  // namespace ringpost::sink
