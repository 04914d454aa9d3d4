// Mailbox syntax for envelope addresses: RFC 5321 §4.1.2 Mailbox, widened by RFC 6531 §3.3 to
// UTF-8 in both parts, with the size limits of RFC 5321 §4.5.3.1. Pure syntax: no DNS. IDNA
// conversion of the domain lives in idna.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::api {

inline constexpr std::size_t kMaxAddressLength = 254;  // RFC 5321 §4.5.3.1.3 path 256 minus "<>"
inline constexpr std::size_t kMaxLocalPartLength = 64;  // RFC 5321 §4.5.3.1.1
inline constexpr std::size_t kMaxDomainLength = 253;    // RFC 1035 §2.3.4 255 minus length octets

// Nothing when `address` is a valid Mailbox (local-part "@" domain); otherwise a short,
// static reason suitable for an error message ("domain label is longer than 63 octets").
tl::expected<void, std::string_view> check_mailbox(std::string_view address);

inline bool is_valid_mailbox(std::string_view address) { return check_mailbox(address).has_value(); }

// An address with an optional display name, as written in From, To, Cc and Reply-To
// (RFC 5322 §3.4 name-addr). `name` is UTF-8; empty means no display name.
struct NamedAddress {
  std::string address;
  std::string name;
  bool operator==(const NamedAddress&) const = default;
};

}  // namespace ringpost::api
