// Content-Transfer-Encoding for body parts, RFC 2045: the 7bit test (§2.7), the
// quoted-printable encoder (§6.7), and the choice between them and base64 (§6.8) for text.
// Input is CRLF-canonical text (see line_endings.h).
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

struct EncodedText {
  std::string_view transfer_encoding;  // "7bit", "quoted-printable" or "base64"
  std::string bytes;
};

// A text body part ready for the wire: unchanged when it is 7bit; otherwise quoted-printable,
// unless base64 (76-column lines) is smaller, as it is for text that is mostly non-ASCII
// (Cyrillic, Greek, CJK: QP spends 3 octets per input octet, base64 4 per 3).
EncodedText encode_text_body(std::string_view crlf_text);

}  // namespace ringpost::api
