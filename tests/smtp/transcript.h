// Loads golden SMTP transcripts (tests/data/smtp/*.txt) and replays them through a
// ClientSession, checking the client's bytes, states and per-recipient results. Test-only.
// Invariant: a run fails on the first mismatch and reports the transcript line.
//
// Format, one directive per line (blank lines and lines starting with '#' are ignored):
//   S: <text>        the server sends <text>CRLF. Consecutive S:/S+ lines form ONE chunk that
//                    is fed to on_bytes() together (or split, depending on the FeedMode).
//   S+ <escaped>     the server sends these bytes with no CRLF added (\r \n \t \\ \xHH).
//   C: <text>        the client must have written exactly <text>CRLF next. Before every server
//                    chunk and at the end, all client output must have been matched.
//   B: <text>        appends <text>CRLF to the body of the next @submit.
//   B+ <escaped>     appends these bytes to the body of the next @submit.
//   @submit <tag> <from> <rcpt>...   addresses written as <addr>, escapes allowed; <> = null sender.
//   @quit | @closed | @timeout       ClientSession::quit() / on_closed() / on_timeout().
//   @expect key=value...             state=<SessionState> ready=yes|no wants_close=yes|no
//                                    failure=<code> completed=<n> pipelining=yes|no
//                                    awaiting=<to_string(Phase), spaces as '_'>
//   R: <tag> <addr> <outcome> <code> [<enhanced>|-] [| <text, escapes allowed>]
//                    the next recipient result (results are checked in the order the session
//                    produced them; every result must be checked by the end).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::smtp::testing {

struct Step {
  enum class Kind { server, client, body, submit, quit, closed, timeout, expect, result };
  Kind kind;
  int line = 0;
  std::string text;               // server bytes, client line, body bytes, or R:/@expect rest
  std::vector<std::string> args;  // split words for @submit / @expect / R:
};

struct Transcript {
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
