// The checks a client's `raw` message (a whole RFC 5322 message) passes at submit, and what the
// front's policy needs from its header section: the From and Sender domains (tenant isolation,
// DKIM d=), and whether it needs SMTPUTF8. Pure and sans-IO; any thread. Invariant: a message
// this accepts has exactly one From, at most one of each RFC 5322 §3.6 single field, no NUL, no
// line over 998 octets, and a header section that ends with an empty line. Line breaks may be
// CRLF, LF or CR: one rule, every one becomes CRLF when the message is rendered (to_crlf).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::api {

struct RawHeaderField {
  std::string_view name;   // as written
  std::string_view value;  // after the colon, folding line breaks included
};

struct RawMessageInfo {
  std::vector<RawHeaderField> fields;       // the header section, in order
  std::vector<std::string> from_domains;    // every mailbox of From, lower-case
  std::vector<std::string> sender_domains;  // Sender's mailbox, lower-case; empty without Sender
  bool header_8bit = false;                 // non-ASCII octets in the header section: RFC 6532, needs SMTPUTF8
};

// Views in the result point into `raw`. On failure: the reason for 422 invalid_raw.
tl::expected<RawMessageInfo, std::string> check_raw_message(std::string_view raw);

// The addr-spec domains of an address-list field value (RFC 5322 §3.4): display names,
// quoted strings, comments, groups and angle brackets are understood; lower-cased. Fails with
// a reason when an entry has no '@'.
tl::expected<std::vector<std::string>, std::string> address_list_domains(std::string_view value);

}  // namespace ringpost::api
