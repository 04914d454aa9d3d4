// ESMTP parameters for MAIL and RCPT (RFC 5321 §4.1.2) built from an envelope and what the
// server offered: SIZE (RFC 1870), BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and DSN's
// RET/ENVID/NOTIFY/ORCPT (RFC 3461). Pure functions; any thread. Invariant: the output is
// printable ASCII without SP inside a value, CR or LF, because every envelope-supplied value is
// either checked against a fixed vocabulary or xtext-encoded: an envelope can never add a
// parameter or a command line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/body_scan.h"
#include "smtp/capabilities.h"
#include "smtp/envelope.h"

namespace ringpost::smtp {

// RFC 5321 §4.5.3.1.4: a command line, its CRLF included, is at most 512 octets; extensions
// raise the limit by what their own parameters need (RFC 1870 §3: SIZE adds 26), so the check
// applies to the line without parameters, and each parameter is kept within its own allowance.
inline constexpr std::size_t kMaxCommandLine = 512;
// RFC 3461 §4.4 and §4.2: the ENVID value at most 100 characters, ORCPT's at most 500.
inline constexpr std::size_t kMaxEnvid = 100;
inline constexpr std::size_t kMaxOrcpt = 500;

// Octets of "MAIL FROM:<from>\r\n" / "RCPT TO:<to>\r\n", before any parameter.
std::size_t mail_line_octets(std::string_view from);
std::size_t rcpt_line_octets(std::string_view to);

bool has_non_ascii(std::string_view s);

// RFC 3461 §4: "!" to "~" except "+" and "=" as themselves, every other byte as "+HH".
std::string xtext_encode(std::string_view s);

// RFC 3461 §4.1: "NEVER", or a comma list of SUCCESS, FAILURE, DELAY (case-insensitive, no
// repeats). Returns the canonical upper-case form, "" for an empty request (no parameter), or
// nullopt if the value is not valid.
std::optional<std::string> canonical_notify(std::string_view value);

// Everything after "MAIL FROM:<...>", without the leading SP; "" for none.
// `smtputf8`: the envelope needs SMTPUTF8 and the server offers it (the caller decides, since
// refusing the envelope when it is not offered is the session's business).
std::string mail_parameters(const Capabilities& caps, const Envelope& env, const BodyScan& body, bool smtputf8);

// Everything after "RCPT TO:<...>" for recipient `index`, without the leading SP; "" for none.
std::string rcpt_parameters(const Capabilities& caps, const Envelope& env, std::size_t index);

}  // namespace ringpost::smtp
