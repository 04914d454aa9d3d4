// Bounce classification: one SMTP failure reply → a coarse class an agent can act on
// (suppress the address, fix authentication, slow down, retry). Pure, table-driven, any
// thread. Built on RFC 3463 enhanced status codes (and the RFC 7372 / RFC 7505 additions),
// falling back to the reply text for servers that send no enhanced code or a generic one.
#pragma once

#include <string_view>

namespace ringpost::api {

// One of "hard", "soft", "policy", "reputation", "mailbox_full", "unknown_user", "bad_domain",
// "message_too_large", "content", "auth", "timeout", "unknown".
//   `code`: the basic reply code (550), 0 when there was no reply.
//   `enhanced`: "5.1.1" or empty; when empty, a code at the start of `text` is used.
//   `text`: the reply text (lines joined), matched case-insensitively.
// Precedence: authentication failures, then specific enhanced codes (unknown user, bad domain,
// mailbox full, too large, timeout, content), then wording (same classes, then content,
// reputation), then x.7 policy, then the basic code: 4xx soft, 5xx hard, anything else unknown.
std::string_view classify_bounce(int code, std::string_view enhanced, std::string_view text);

}  // namespace ringpost::api
