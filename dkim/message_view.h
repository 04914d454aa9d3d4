// A read-only view of an RFC 5322 message as the signer needs it: its header fields (each with
// its folded continuation lines, without the final CRLF) and its body. Zero-copy spans into the
// caller's buffer; pure, any thread. Invariant: every field starts with a field name and a
// colon, and the fields plus CRLF separators plus the blank line plus the body are exactly the
// input (RFC 5322 §2.1, §2.2.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::dkim {

struct MessageView {
  std::vector<std::string_view> fields;  // "Subject: a\r\n b" (internal CRLFs kept)
  std::string_view body;                 // after the blank line; empty if there is none
};

// Splits at CRLF. Errors: a bare CR or LF in the header section (the message must be in the
// CRLF form it is sent in, or the signature would cover different bytes), a first line that
// is a continuation, a line without a colon.
tl::expected<MessageView, std::string> split_message(std::string_view message);

// The field's name: "Subject" for "Subject : x" (WSP before the colon is obsolete syntax,
// RFC 5322 §4.5, still accepted).
std::string_view field_name(std::string_view field);

// The lower-case domain of the first mailbox in the first From field: the domain DKIM's d=
// must align with for DMARC (RFC 7489 §3.1.1). Handles display names, quoted local parts,
// comments, groups and folding. Nothing when there is no From field, no address in it, or
// the domain is an address literal.
std::optional<std::string> from_domain(const MessageView& message);

}  // namespace ringpost::dkim
