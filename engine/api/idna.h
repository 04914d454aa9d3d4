// IDNA2008 (RFC 5891) conversion of mail domains to A-labels ("xn--..."), so envelopes and
// header fields carry only ASCII domains even when a client wrote "bob@bücher.example".
// Local parts are left alone: a UTF-8 local part needs SMTPUTF8 (RFC 6531), not IDNA.
// Pure; libidn2 keeps no global state, so any thread may call these.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

// The A-label form of `domain`; ASCII domains are returned unchanged (not even lower-cased).
// Unicode domains are mapped per UTS #46 non-transitional processing (so "BÜCHER.example" and
// "bücher.example" give the same result) and then checked against IDNA2008. The error is a
// short reason from libidn2.
tl::expected<std::string, std::string> domain_to_ascii(std::string_view domain);

// `address` (already a valid Mailbox) with its domain converted by domain_to_ascii. Address
// literals and ASCII domains come back unchanged.
tl::expected<std::string, std::string> address_to_ascii_domain(std::string_view address);

}  // namespace ringpost::api
