// domain_of (message.h): the routing key of a recipient address. Pure; any thread.
#include "queue/message.h"

namespace ringpost::queue {

// The last '@' because a quoted local part may itself contain '@' ("a@b"@example.test); a
// domain never does. Lower-casing is ASCII only: domains reach us as A-labels, and
// locale-dependent tolower would make the key differ between hosts. An address literal keeps
// its brackets ("[192.0.2.1]", "[ipv6:2001:db8::1]"; the tag is case-insensitive, RFC 5321
// §4.1.3 uses RFC 5234 strings) so it can never collide with a host name. No '@': empty.
std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain(address.substr(at + 1));
  for (char& c : domain) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return domain;
}

}  // namespace ringpost::queue
