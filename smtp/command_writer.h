// Writes SMTP client command lines (RFC 5321 §4.1.1) into an output buffer, and decides which
// envelope addresses are safe to write at all. Pure functions; any thread. Invariant: nothing
// written here ever contains a CR or LF except the one CRLF that ends the command, so a
// hostile address can never smuggle a second command or an ESMTP parameter onto the wire.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringpost::smtp {

// True if `address` can go between the '<' and '>' of a reverse- or forward-path:
// no control bytes (RFC 5321 §4.1.2 allows none anywhere in a Mailbox), and '<' or '>' only
// inside a quoted local part, with quotes balanced. Non-ASCII bytes pass (SMTPUTF8 is the
// server's call). An empty address is the null reverse-path: valid for MAIL, not for RCPT.
bool is_safe_path(std::string_view address);

// True if `name` is a plausible EHLO/HELO argument: non-empty, printable ASCII, no spaces.
bool is_safe_ehlo_name(std::string_view name);

void write_ehlo(std::string& out, std::string_view name);
void write_helo(std::string& out, std::string_view name);
// `params` are ESMTP MAIL parameters (RFC 5321 §4.1.2 Mail-parameters), already formatted,
// without a leading space; empty for none. Callers check is_safe_path(from) first.
void write_mail_from(std::string& out, std::string_view from, std::string_view params);
// `params` as for write_mail_from (RCPT parameters, e.g. DSN's NOTIFY and ORCPT).
void write_rcpt_to(std::string& out, std::string_view to, std::string_view params = {});
void write_data(std::string& out);
// RFC 3030 §2: "BDAT <octets> [LAST]"; the caller appends exactly `octets` bytes after it.
void write_bdat(std::string& out, std::size_t octets, bool last);
void write_starttls(std::string& out);
void write_rset(std::string& out);
void write_quit(std::string& out);

}  // namespace ringpost::smtp
