// MIME entities for generated messages, RFC 2045/2046: text parts, attachment parts, and
// multiparts around them. A part is its header fields plus its encoded body, so multiparts
// nest by value. Pure; any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "engine/api/submit_request.h"

namespace ringpost::api {

struct MimePart {
  std::string headers;  // complete Content-* field lines, each ending in CRLF
  std::string body;     // the encoded body; 7bit-safe, CRLF line ends, no line over 998 octets
};

// text/plain or text/html, charset=utf-8: 7bit when it can be, else quoted-printable or
// base64, whichever is smaller (transfer_encoding.h). Line ends are normalised to CRLF first.
MimePart text_part(std::string_view media_type, std::string_view text);

// The attachment's bytes as base64 in 76-column lines, exactly as given (no line-end
// conversion, whatever the type). Content-Disposition "attachment", or "inline" with a
// Content-ID when the attachment has a content_id; the file name both as Content-Disposition's
// filename (RFC 2183, what current readers use) and Content-Type's name (what older ones use),
// quoted or in RFC 2231 form (mime_params.h).
MimePart attachment_part(const Attachment& a);

// multipart/<subtype> around `parts` (RFC 2046 §5.1), with a boundary from `seed` that occurs
// in none of them, so parts nest without a delimiter ever being ambiguous. `root_type`, when
// given, is written as the type parameter multipart/related needs (RFC 2387 §3.1).
MimePart multipart(std::string_view subtype, std::string_view seed, std::span<const MimePart> parts,
                   std::string_view root_type = {});

}  // namespace ringpost::api
