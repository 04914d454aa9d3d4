// Incremental parser for SMTP replies (RFC 5321 §4.2, enhanced codes per RFC 2034 / RFC 3463).
// Owned by one ClientSession (one shard); never shared. Invariant: after Status::error every
// later call returns the same error until reset(); a partial line is buffered here, not by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace ringpost::smtp {

// Feed it whatever bytes arrived; it returns at most one reply per call.
//
// Buffering contract: the parser keeps an incomplete line (and the lines of an unfinished
// multi-line reply) internally, so the caller never re-feeds bytes:
//   complete  -> `consumed` = bytes of `in` up to and including the reply's last line end;
//                the caller feeds in.substr(consumed) next (it may hold more replies).
//   need_more -> `consumed` = in.size(); everything was taken.
//   error     -> sticky; `error` says why. The connection cannot be trusted any more.
// Lines may end in CRLF or a bare LF (some servers); a CR before the LF is dropped.
class ReplyParser {
 public:
  enum class Status : uint8_t { complete, need_more, error };
  struct Result {
    Status status;
    std::size_t consumed;
    std::string error;  // empty unless status == error
  };

  // RFC 5321 §4.5.3.1.5 allows 512 bytes per reply line; real servers exceed it (long EHLO
  // AUTH lists, verbose rejections), so we tolerate 8x that but no more: a peer streaming an
  // endless line must not grow our memory without bound.
  static constexpr std::size_t kMaxLine = 4096;
  // The same reasoning for an endless run of continuation lines.
  static constexpr std::size_t kMaxReply = 64 * 1024;

  Result parse(std::string_view in, Reply& out);

  // Forget all state, including a sticky error (e.g. after a new connection).
  void reset();

  // True when no partial line or unfinished multi-line reply is buffered.
  bool idle() const { return partial_.empty() && !in_reply_; }

 private:
  // Takes one complete line without its terminator. Returns false (and sets error_) if malformed;
  // sets `done` when the line ends the reply.
  bool take_line(std::string_view line, bool& done);
  Result fail(std::size_t consumed, std::string why);

  std::string partial_;  // an incomplete line carried over from earlier calls
  Reply building_;       // the reply whose lines we have seen so far
  bool in_reply_ = false;
  std::string error_;    // non-empty once a sticky error happened
};

}  // namespace ringpost::smtp
