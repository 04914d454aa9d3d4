// Writes RFC 5322 header fields with CRLF line ends. Folding (§2.2.3) keeps lines within 78
// octets where the content allows and never beyond 998; non-ASCII unstructured text goes out
// as RFC 2047 "B" encoded-words, whose lines stay within 76 octets (RFC 2047 §2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

}  // namespace ringpost::api
