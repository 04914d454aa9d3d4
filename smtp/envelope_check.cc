// See envelope_check.h. Codes per RFC 3463 (X.1.7 bad sender, X.1.3 bad recipient, X.6.0 media
// error, X.3.4 message too big) and RFC 5248 (X.6.7 non-ASCII address without SMTPUTF8).
#include "smtp/envelope_check.h"

#include <fmt/format.h>

#include "smtp/command_writer.h"
#include "smtp/envelope_params.h"

namespace ringpost::smtp {

EnvelopeCheck check_envelope(const Envelope& env, const Capabilities& caps, std::string_view server_name) {
  EnvelopeCheck check;
  check.recipients.resize(env.recipients.size());
  if (!is_safe_path(env.from)) {
    check.envelope = Reply{501, "5.1.7", "sender address contains characters not allowed in an SMTP path"};
    return check;
  }
  if (mail_line_octets(env.from) > kMaxCommandLine) {
    check.envelope = Reply{501, "5.1.7", fmt::format("sender address too long: MAIL would be {} octets; SMTP allows {}",
                                                     mail_line_octets(env.from), kMaxCommandLine)};
    return check;
  }
  bool any = false;
  bool non_ascii = has_non_ascii(env.from);
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const std::string& rcpt = env.recipients[i];
    if (rcpt.empty() || !is_safe_path(rcpt)) {
      check.recipients[i] = Reply{501, "5.1.3", "recipient address contains characters not allowed in an SMTP path"};
    } else if (rcpt_line_octets(rcpt) > kMaxCommandLine) {
      check.recipients[i] = Reply{501, "5.1.3", fmt::format("recipient address too long: RCPT would be {} octets; SMTP allows {}",
                                                            rcpt_line_octets(rcpt), kMaxCommandLine)};
    } else {
      any = true;
      non_ascii = non_ascii || has_non_ascii(rcpt);
    }
  }
  if (!any) return check;

  check.body = scan_body(env.body ? std::string_view(*env.body) : std::string_view());
  // RFC 6532: UTF-8 in the header section (a raw message's, unencoded) is only legal over
  // SMTPUTF8, like a non-ASCII address.
  non_ascii = non_ascii || check.body.header_eight_bit;
  if (check.body.long_line != 0) {
    // Folding the line would change the message (and break its DKIM signature); a server may
    // truncate or refuse it, so it is not sent at all.
    check.envelope = Reply{554, "5.6.0", fmt::format("line {} is {} octets; SMTP allows {}", check.body.long_line,
                                                     check.body.long_line_octets, kMaxBodyLine)};
  } else if (non_ascii && !caps.smtputf8) {
    // RFC 6531 §3.2: such an envelope must not be sent to a server without SMTPUTF8.
    check.envelope = Reply{553, "5.6.7", fmt::format("non-ASCII address or UTF-8 header requires SMTPUTF8, which {} does not offer",
                                                     server_name)};
  } else if (caps.size && *caps.size > 0 && check.body.wire_size > *caps.size) {
    // RFC 1870 §6: the server declared it would refuse this; "SIZE" or "SIZE 0" is no limit.
    check.envelope = Reply{552, "5.3.4", fmt::format("message size {} exceeds the server's limit of {} bytes",
                                                     check.body.wire_size, *caps.size)};
  }
  check.smtputf8 = non_ascii;
  return check;
}

}  // namespace ringpost::smtp
