// Which header fields a signature covers and how they are hashed (RFC 6376 §3.4.1, §3.4.2,
// §5.4.2). Pure functions over a MessageView; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dkim/message_view.h"
#include "dkim/sign_entry.h"

namespace ringpost::dkim {

// Appends `field` (as split_message gives it: folded lines kept, no final CRLF) canonicalized
// with `c`, then CRLF.
void append_canonical_field(std::string& out, std::string_view field, Canon c);

struct HeaderSelection {
  // h=, in order: the entry's names for every matching field top-down, then each over-signed
  // name once more. Views into the entry's strings.
  std::vector<std::string_view> names;
  // What a verifier hashes for `names`: for each name the lowest instance not yet taken
  // (RFC 6376 §5.4.2); a name with none left (an over-signed one) adds nothing.
  std::vector<std::string_view> fields;
};

HeaderSelection select_headers(const MessageView& message, const SignEntry& entry);

}  // namespace ringpost::dkim
