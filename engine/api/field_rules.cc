// What clients may put in header fields, RFC 5322 §2.2 and §3.6. The reserved list is every
// field the renderer writes: a second Message-ID or Content-Type would make the message
// ambiguous to receivers, and a client-supplied Bcc would leak its recipients.
#include "engine/api/field_rules.h"

#include <array>

#include "engine/api/ascii.h"

namespace ringpost::api {

bool is_field_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

bool is_reserved_field(std::string_view name) {
  // Engine-owned, never taken from a client (docs/api.md "Headers"):
  //  - what the renderer writes itself (From, To, Cc, Bcc, Subject, Date, Message-ID,
  //    MIME-Version, every Content-*): a second one makes the message ambiguous, and a client
  //    Bcc would leak its recipients. (Reply-To may come from `headers` or `reply_to`, not
  //    both: that is conflicting_fields, checked with the fields);
  //  - identity: Sender would claim a mailbox the key's allowed_from never saw;
  //  - trace and authentication, which only MTAs and verifiers write: Return-Path (RFC 5321
  //    §4.4, added at final delivery), Received, Resent-* (a resend is a new submission),
  //    DKIM-Signature, ARC-*, Authentication-Results: forged ones mislead receivers' filters.
  static constexpr std::array<std::string_view, 15> kReserved = {
      "From", "Sender", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version",
      "Return-Path", "Received", "DKIM-Signature", "Authentication-Results", "DomainKey-Signature",
      "Content-Transfer-Encoding"};
  static constexpr std::array<std::string_view, 3> kReservedPrefixes = {"Content-", "Resent-", "ARC-"};
  for (const std::string_view r : kReserved) {
    if (ascii_iequals(name, r)) return true;
  }
  for (const std::string_view p : kReservedPrefixes) {
    if (name.size() >= p.size() && ascii_iequals(name.substr(0, p.size()), p)) return true;
  }
  return false;
}

tl::expected<void, std::string_view> check_field_value(std::string_view name, std::string_view value) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') return tl::make_unexpected("header value contains CR or LF");
    if ((c < 32 && c != '\t') || c == 127) return tl::make_unexpected("header value contains a control character");
    // 8-bit header bytes are only legal with SMTPUTF8 (RFC 6532), which we do not negotiate
    // yet; and we cannot RFC 2047-encode for the client without knowing the field's structure.
    if (c >= 128) {
      return tl::make_unexpected("header value is not ASCII; encode it as RFC 2047 encoded-words (=?UTF-8?B?...?=)");
    }
  }
  // User fields are written unfolded: folding is only safe where the field's grammar allows
  // FWS, and we do not parse structured fields such as List-Unsubscribe.
  if (name.size() + 2 + value.size() > kMaxLineLength) {
    return tl::make_unexpected("header is longer than 998 octets (RFC 5322 line limit)");
  }
  return {};
}

tl::expected<void, std::string_view> check_subject(std::string_view subject) {
  for (const char ch : subject) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') return tl::make_unexpected("subject contains CR or LF");
    if ((c < 32 && c != '\t') || c == 127) return tl::make_unexpected("subject contains a control character");
  }
  return {};
}

bool has_control_character(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
  }
  return false;
}

tl::expected<void, std::string_view> check_display_name(std::string_view name) {
  if (name.size() > kMaxDisplayNameLength) return tl::make_unexpected("display name is longer than 256 octets");
  if (has_control_character(name)) return tl::make_unexpected("display name contains a control character");
  return {};
}

}  // namespace ringpost::api
