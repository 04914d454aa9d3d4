// Writes RFC 5322 header fields with CRLF line ends. Folding (§2.2.3) keeps lines within 78
// octets where the content allows and never beyond 998; non-ASCII unstructured text goes out
// as RFC 2047 "B" encoded-words, whose lines stay within 76 octets (RFC 2047 §2).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api/mail_address.h"

namespace ringpost::api {

// "name: value" CRLF, unfolded. The caller guarantees value has no CR/LF and the line fits 998.
void append_field(std::string& out, std::string_view name, std::string_view value);

// An unstructured field (Subject). Written as folded ASCII when it is plain printable ASCII;
// as encoded-words when it has non-ASCII or control bytes, contains "=?" (which readers would
// try to decode), or has a word too long to fit a 998-octet line. Unfolding and decoding
// yields exactly `text`.
void append_unstructured_field(std::string& out, std::string_view name, std::string_view text);

// An address-list field (To, Cc): addresses joined by ", ", folded after commas.
void append_address_list_field(std::string& out, std::string_view name, const std::vector<std::string>& addresses);

// A mailbox-list field (From, To, Cc, Reply-To; RFC 5322 §3.4): "name <address>", or the bare
// address when there is no name, joined by ", ". A display name is written as atoms when it is
// plain words, as a quoted-string when it is other printable ASCII, and with RFC 2047 "B"
// encoded-words for the non-ASCII words otherwise (ASCII words between them stay atoms, so the
// spaces around them survive any decoder). Folded at whitespace within 78 octets, and 76 on
// lines holding encoded-words (RFC 2047 §2). Precondition: names have no control characters.
void append_mailbox_list_field(std::string& out, std::string_view name, std::span<const NamedAddress> mailboxes);

// `text` as RFC 2047 "B" encoded-words of at most `max_length` characters each (75 is RFC
// 2047 §2's limit; values below 20 count as 20), split only between UTF-8 characters so each
// decodes on its own (RFC 2047 §5). Empty text gives no words.
std::vector<std::string> encoded_words(std::string_view text, std::size_t max_length = 75);

}  // namespace ringpost::api
