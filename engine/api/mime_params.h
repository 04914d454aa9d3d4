// MIME header parameters (RFC 2045 §5.1) for attachment parts: quoted-string values, and RFC
// 2231 extended values (charset and percent-encoding, split into numbered sections) for
// non-ASCII or long file names. Each parameter goes on its own folded line: ";" CRLF SP
// attribute=value. Not RFC 2047 encoded-words in quotes, as some mailers write: RFC 2047 §5
// forbids them there, and readers that check (Python's email package) flag the part.
#pragma once

#include <string>
#include <string_view>

namespace ringpost::api {

// A quoted-string when `value` is printable ASCII and the line fits 78 octets; otherwise
// RFC 2231 (`attribute*=utf-8''%E2%82%AC.pdf`), in sections `attribute*0*=`, `attribute*1*=`
// ... of at most 78-octet lines, each section whole UTF-8 characters. Precondition: `value`
// is valid UTF-8 without control characters.
void append_param(std::string& out, std::string_view attribute, std::string_view value);

}  // namespace ringpost::api
