// The server side of one SMTP connection for `ringpost sink`, sans-IO: fed the bytes the client
// sent, it appends the replies to output() and says what the driver must do next (after()). It
// never touches a socket, TLS or the clock. Owned by the sink's thread. Invariant: feeding the
// same bytes in any split produces the same output and counters (tests/sink checks every
// boundary). RFC 5321 (commands, replies), 2920 (PIPELINING), 3030 (CHUNKING), 1870 (SIZE),
// 6152 (8BITMIME), 3207 (STARTTLS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/sink/sink_config.h"

namespace ringpost::sink {

class SinkSession {
 public:
  // What the driver does once it has sent output(): nothing special, start the TLS handshake
  // (every byte received after STARTTLS is TLS), or close the connection.
  enum class After { none, start_tls, close };

  // `counters` is shared by the server's sessions and outlives them; `seed` makes the fault
  // draws of this session reproducible.
  SinkSession(const SinkConfig& cfg, SinkCounters* counters, uint64_t seed);

  void greet();   // 220 banner
  void refuse();  // 421 banner, then close (over the connection limit)

  // Consumes client bytes; returns how many were taken. Everything is taken unless after() is
  // no longer none: then the rest is dropped (counted as taken: RFC 3207 §4.2, commands
  // pipelined behind STARTTLS must not be executed; after 421/QUIT nothing is read).
  std::size_t on_bytes(std::string_view in);
  // The TLS handshake finished: RFC 3207 §4.2, forget everything learnt before it (EHLO, any
  // transaction) and stop offering STARTTLS.
  void on_tls_started();

  std::string& output() { return out_; }
  // Replies appended to output() since the last call; the driver delays each by --latency.
  std::size_t take_reply_count();
  After after() const { return after_; }
  bool tls_active() const { return tls_active_; }
  uint64_t messages_on_connection() const { return messages_on_conn_; }

 private:
  enum class Mode { command, data, bdat };
  // Where the DATA scanner is relative to RFC 5321 §4.1.1.4's end marker CRLF "." CRLF.
  enum class DataScan { line_start, mid_line, dot, dot_cr };

  void reply(std::string_view line);  // one complete reply, CRLF appended
  void command(std::string_view line);
  void cmd_ehlo(std::string_view arg, bool extended);
  void cmd_mail(std::string_view arg);
  void cmd_rcpt(std::string_view arg);
  void cmd_data();
  void cmd_bdat(std::string_view arg);
  void cmd_starttls();
  std::size_t scan_data(std::string_view in);  // returns bytes consumed
  std::size_t take_bdat(std::string_view in);
  void end_of_message();  // final reply for DATA or BDAT LAST
  void reset_transaction();
  bool roll(double pct);  // true with probability pct / 100

  const SinkConfig& cfg_;
  SinkCounters* counters_;
  uint64_t rng_;

  std::string out_;
  std::size_t replies_ = 0;
  After after_ = After::none;

  std::string line_;           // a command line split across on_bytes calls
  bool line_too_long_ = false;  // discarding up to the next LF
  Mode mode_ = Mode::command;
  DataScan scan_ = DataScan::line_start;

  bool helo_ = false;
  bool esmtp_ = false;
  bool tls_active_ = false;
  bool mail_ = false;
  uint32_t rcpts_ = 0;
  bool bdat_used_ = false;     // DATA is refused in a transaction that started BDAT
  bool bdat_failed_ = false;   // a chunk without a valid transaction: refuse the rest (RFC 3030 §2)
  bool bdat_last_ = false;
  uint64_t bdat_left_ = 0;
  uint64_t bdat_chunk_ = 0;  // the size the current BDAT announced
  uint64_t msg_bytes_ = 0;
  uint64_t messages_on_conn_ = 0;
};

}  // namespace ringpost::sink
