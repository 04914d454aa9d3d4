// One pass over a message body before it is offered to a server: its size on the wire (RFC 1870
// SIZE=, RFC 3030 BDAT count), whether it needs 8BITMIME (RFC 6152), and its first line longer
// than SMTP allows (RFC 5321 §4.5.3.1.6). Pure function; any thread. Invariant: lines are
// counted exactly as dot_stuffer.cc writes them (CRLF, bare CR and bare LF each end a line).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringpost::smtp {

// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including the CRLF (the dot added
// by stuffing is not counted).
inline constexpr std::size_t kMaxBodyLine = 998;

struct BodyScan {
  // Octets after line-end repair, final CRLF included: RFC 1870 §6's message size ("including
  // CR-LF pairs, but not the SMTP DATA command's terminating dot or doubled quoting dots"),
  // and exactly what crlf_normalize_append() writes.
  std::size_t wire_size = 0;
  bool eight_bit = false;             // some byte >= 0x80
  // A byte >= 0x80 before the first empty line: a UTF-8 header section (RFC 6532), which needs
  // SMTPUTF8. False when there is no empty line at all (no header section to judge).
  bool header_eight_bit = false;
  std::size_t long_line = 0;          // 1-based number of the first line over kMaxBodyLine; 0 = none
  std::size_t long_line_octets = 0;   // that line's length without its line end
};

BodyScan scan_body(std::string_view message);

}  // namespace ringpost::smtp
