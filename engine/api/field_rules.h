// What clients may put in header fields: the names and values of the "headers" object and the
// subject. RFC 5322 §2.2 (field syntax) and §2.1.1 (line length). Invariant: anything these
// accept can be written as one header line without folding and without header injection.
#pragma once

#include <cstddef>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

inline constexpr std::size_t kMaxLineLength = 998;  // RFC 5322 §2.1.1, excluding CRLF
inline constexpr std::size_t kMaxDisplayNameLength = 256;  // octets; keeps "name <address>" on one line

// RFC 5322 §3.6.8 field-name: 1*ftext, ftext = %d33-57 / %d59-126 (printable ASCII but ':').
bool is_field_name(std::string_view name);

// Fields ringpost writes itself (From, To, Cc, Bcc, Subject, Date, Message-ID, MIME-Version,
// Content-Type, Content-Transfer-Encoding, Return-Path); case-insensitive.
bool is_reserved_field(std::string_view name);

// A user field's value: ASCII VCHAR and WSP only (no CR/LF, no other controls), and short
// enough that "name: value" fits one 998-octet line. Returns a static reason on failure.
tl::expected<void, std::string_view> check_field_value(std::string_view name, std::string_view value);

// The subject: any UTF-8 (it is sent as RFC 2047 encoded-words when not ASCII), but no CR, LF
// or other control characters except tab.
tl::expected<void, std::string_view> check_subject(std::string_view subject);

// A display name for From, To, Cc or Reply-To: any UTF-8 text (written as RFC 2047
// encoded-words when needed) of at most kMaxDisplayNameLength octets, without control
// characters (C0, DEL, C1), which no mail reader can show.
tl::expected<void, std::string_view> check_display_name(std::string_view name);

// True when `s` has a C0 control, DEL, or a C1 control (U+0080..U+009F, as UTF-8 C2 80..C2 9F).
// Precondition: `s` is valid UTF-8.
bool has_control_character(std::string_view s);

}  // namespace ringpost::api
