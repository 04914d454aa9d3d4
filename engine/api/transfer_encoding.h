// Content-Transfer-Encoding for body parts, RFC 2045: the 7bit test (§2.7) and the
// quoted-printable encoder (§6.7). Input is CRLF-canonical text (see line_endings.h).
#pragma once

#include <string>
#include <string_view>

namespace ringpost::api {

// RFC 2045 §2.7 "7bit data": no NUL, no octet above 127, CR and LF only as CRLF, lines of at
// most 998 octets. Such a part needs no encoding.
bool is_7bit(std::string_view crlf_text);

// RFC 2045 §6.7. CRLF pairs are hard line breaks and are kept; a lone CR or LF is encoded
// (=0D, =0A) so none reaches the wire. Encoded lines are at most 76 octets including the '='
// of a soft break; '=', non-printable and non-ASCII octets, and whitespace at the end of a line
// are written as =XX. Decoding the output yields the input exactly.
std::string quoted_printable_encode(std::string_view crlf_text);

}  // namespace ringpost::api
