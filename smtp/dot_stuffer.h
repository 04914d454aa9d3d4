// Turns an RFC 5322 message into the DATA payload the server expects (RFC 5321 §4.5.2, §2.3.8):
// CRLF line ends only, a leading '.' doubled, a final CRLF, then the ".\r\n" terminator.
// Pure functions, no state; safe on any thread. Invariant: the output contains no bare CR or LF
// and no line that is exactly "." except the terminator.
#pragma once

#include <string>
#include <string_view>

namespace ringpost::smtp {

// Whole-message form: a message is stuffed exactly once per transaction and the result is
// written straight into the session's output buffer, so a one-shot function that can reserve
// once beats a streaming encoder for now. BDAT/CHUNKING (no stuffing at all) and a streaming
// variant for very large bodies can come later without changing callers of dot_stuff().
//
// An empty message yields just ".\r\n" (an empty body, not an empty line).
std::string dot_stuff(std::string_view message);

// Same, appended to `out` (the session uses this to avoid one extra copy of the body).
void dot_stuff_append(std::string_view message, std::string& out);

}  // namespace ringpost::smtp
