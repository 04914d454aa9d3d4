// Renders a validated SubmitMessage into RFC 5322 message bytes with CRLF line ends, ready to
// spool (queue::Message::body). Pure: the id, host name and time are passed in, so output is
// reproducible. RFC 5322 (format), RFC 2045/2046 (MIME), RFC 2047 (encoded-words in the
// subject and display names), RFC 2183/2231 (attachment file names), RFC 2387 (related).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/api/message_id.h"
#include "engine/api/submit_request.h"

namespace ringpost::api {

// Raw messages: line ends normalised to CRLF, Bcc fields removed, and Message-ID
// (<message_id@hostname>) and Date added only when missing; the body is otherwise untouched.
// Generated messages: From, Reply-To, To, Cc, Subject, Date, Message-ID, MIME-Version, the
// user's headers, then the body: text/plain, text/html or multipart/alternative; the html
// inside multipart/related with its inline attachments (content_id); all of it inside
// multipart/mixed with the other attachments. Text parts are 7bit when they can be, else
// quoted-printable or base64, whichever is smaller; attachments are base64 in 76 columns.
// No Bcc field is ever written.
std::string render_message(const SubmitMessage& m, std::string_view message_id, std::string_view hostname,
                           int64_t now_unix_seconds);

}  // namespace ringpost::api
