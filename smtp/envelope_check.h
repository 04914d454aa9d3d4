// The local refusals: what ClientSession::submit() refuses before writing a byte, because the
// same envelope would fail the same way on the wire (or must not be sent at all). Pure
// function; any thread. Invariant: checks run narrowest scope first (sender, each recipient,
// then the message against SMTP's and this server's limits), and every refusal is permanent.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "smtp/body_scan.h"
#include "smtp/capabilities.h"
#include "smtp/envelope.h"
#include "smtp/reply.h"

namespace ringpost::smtp {

struct EnvelopeCheck {
  std::vector<std::optional<Reply>> recipients;  // per recipient: its refusal, or nullopt
  // Refuses every recipient not refused above. A bad sender refuses them all, and then the
  // recipients are not looked at.
  std::optional<Reply> envelope;
  BodyScan body;          // valid when some recipient is left to send
  bool smtputf8 = false;  // MAIL must carry SMTPUTF8 (only set when the server offers it)
};

// `server_name` names the server in the SMTPUTF8 refusal.
EnvelopeCheck check_envelope(const Envelope& env, const Capabilities& caps, std::string_view server_name);

}  // namespace ringpost::smtp
