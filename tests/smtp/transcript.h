// Loads golden SMTP transcripts (tests/data/smtp/*.txt) and replays them through a
// ClientSession, checking the client's bytes, states and per-recipient results. Test-only.
// Invariant: a run fails on the first mismatch and reports the transcript line.
//
// Format, one directive per line (blank lines and lines starting with '#' are ignored):
//   @config key=value...   SessionConfig, before any other directive: tls=off|opportunistic|
//                    required, chunking=yes|no, peer=<name>. Default: tls=off chunking=yes.
//   S: <text>        the server sends <text>CRLF. Consecutive S:/S+ lines form ONE chunk that
//                    is fed to on_bytes() together (or split, depending on the FeedMode).
//   S+ <escaped>     the server sends these bytes with no CRLF added (\r \n \t \\ \xHH).
//   C: <text>        the client must have written exactly <text>CRLF next. Before every server
//                    chunk and at the end, all client output must have been matched.
//   C+ <escaped>     the client must have written exactly these bytes next (no CRLF added).
//   B: <text>        appends <text>CRLF to the body of the next @submit.
//   B+ <escaped>     appends these bytes to the body of the next @submit.
//   B* <n> <escaped> appends these bytes n times (long lines, big bodies).
//   @dsn key=value...    DSN requests for the next @submit: ret=, envid= (escapes allowed),
//                    and notify=, orcpt= once per recipient in order ('-' = none).
//   @submit <tag> <from> <rcpt>...   addresses written as <addr>, escapes allowed; <> = null sender.
//   @quit | @closed | @timeout       ClientSession::quit() / on_closed() / on_timeout().
//   @tls_ready | @tls_failed <why>   ClientSession::on_tls_ready() / on_tls_failed(why).
//   @expect key=value...             state=<SessionState> ready=yes|no wants_close=yes|no
//                                    failure=<code> completed=<n> pipelining=yes|no
//                                    awaiting=<to_string(Phase), spaces as '_'>
//                                    wants_tls=yes|no tls_active=yes|no chunking=yes|no
//                                    starttls=yes|no size=<n>|none
//   F: <code> [<enhanced>|-] [| <text, escapes allowed>]   the session's failure_reply().
//   R: <tag> <addr> <outcome> <code> [<enhanced>|-] [| <text, escapes allowed>]
//                    the next recipient result (results are checked in the order the session
//                    produced them; every result must be checked by the end).
// Whatever the transcript says, the runner fails if the session ever has output pending while
// wants_tls() is true.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::smtp::testing {

struct Step {
  enum class Kind { server, client, body, dsn, submit, quit, closed, timeout, tls_ready, tls_failed, expect, failure, result };
  Kind kind;
  int line = 0;
  std::string text;               // server bytes, client bytes (CRLF included), body bytes, or
                                  // R:/@expect/@tls_failed rest
  std::vector<std::string> args;  // split words for @submit / @expect / R:
};

struct Transcript {
  std::vector<std::string> config;  // @config key=value words
  std::vector<Step> steps;
  std::size_t longest_chunk = 0;  // longest server chunk: how many split points to try
};

tl::expected<Transcript, std::string> parse_transcript(const std::string& text);
tl::expected<Transcript, std::string> load_transcript(const std::string& path);

// How each server chunk reaches on_bytes(): whole; as [0, at) + [at, end) (when at < size);
// or one byte per call.
struct FeedMode {
  enum class Kind { whole, split, byte_by_byte } kind = Kind::whole;
  std::size_t at = 0;
  std::string describe() const;
};

// Replays the transcript; returns "" on success, else what went wrong and where.
std::string run_transcript(const Transcript& t, FeedMode mode);

// Runs every FeedMode (whole, each split point up to longest_chunk, byte by byte); returns the
// first failure or "".
std::string run_transcript_all_modes(const Transcript& t);

// Decodes \r \n \t \\ \xHH.
std::string unescape(const std::string& s);

}  // namespace ringpost::smtp::testing
