// Turns an RFC 5322 message into the bytes the server expects after DATA's 354 (RFC 5321 §4.5.2,
// §2.3.8): CRLF line ends only, a leading '.' doubled, a final CRLF, then the ".\r\n" terminator;
// or, for BDAT (RFC 3030), the same line-end repair with no stuffing and no terminator.
// Pure functions, no state; safe on any thread. Invariant: the output contains no bare CR or LF;
// the DATA form has no line that is exactly "." except the terminator.
#pragma once

#include <string>
#include <string_view>

namespace ringpost::smtp {

// Whole-message form: a message is stuffed exactly once per transaction and the result is
// written straight into the session's output buffer, so a one-shot function that can reserve
// once beats a streaming encoder for now. A streaming variant for very large bodies can come
// later without changing callers of dot_stuff().
//
// An empty message yields just ".\r\n" (an empty body, not an empty line).
std::string dot_stuff(std::string_view message);

// Same, appended to `out` (the session uses this to avoid one extra copy of the body).
void dot_stuff_append(std::string_view message, std::string& out);

// The BDAT payload (RFC 3030 §2: the chunk is sent as is, so no dot-stuffing and no
// terminator), with line ends repaired exactly as dot_stuff_append() does, so a message is the
// same octets whichever command carries it. Appends exactly scan_body(message).wire_size bytes
// (smtp/body_scan.h), which is the count BDAT announces. An empty message appends nothing.
void crlf_normalize_append(std::string_view message, std::string& out);

}  // namespace ringpost::smtp
