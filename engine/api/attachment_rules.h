// What clients may put in an attachment's filename, content_type and content_id. RFC 2045 §5.1
// (Content-Type), RFC 2183 (Content-Disposition filename), RFC 2392 (Content-ID for cid: URLs).
// Invariant: anything these accept can be written into the part's header fields by
// mime_params.h without escaping problems or header injection.
#pragma once

#include <cstddef>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

inline constexpr std::size_t kMaxFilenameLength = 255;     // octets: what common file systems allow
inline constexpr std::size_t kMaxContentTypeLength = 256;  // octets, parameters included
inline constexpr std::size_t kMaxContentIdLength = 250;    // octets; "<" id ">" stays well within a line

// A file name, not a path: non-empty UTF-8 without control characters, '/' or '\', not "." or
// "..", at most kMaxFilenameLength octets.
tl::expected<void, std::string_view> check_filename(std::string_view filename);

// RFC 2045 §5.1 "type/subtype" with optional "; attribute=value" parameters (value a token or
// a quoted-string), printable ASCII only. multipart/* and message/* are refused: an
// attachment is sent base64-encoded, which RFC 2045 §6.4 forbids for composite types. A "name"
// parameter is refused too: ringpost writes it from the filename.
tl::expected<void, std::string_view> check_content_type(std::string_view content_type);

// The id an html part refers to as "cid:<id>", without angle brackets (RFC 2392): dot-atom
// text (RFC 5322 §3.2.3), optionally "@" and another dot-atom text, as in "logo@example.com".
tl::expected<void, std::string_view> check_content_id(std::string_view content_id);

}  // namespace ringpost::api
