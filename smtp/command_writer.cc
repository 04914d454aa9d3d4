// See command_writer.h.
#include "smtp/command_writer.h"

#include <fmt/format.h>

namespace ringpost::smtp {

bool is_safe_path(std::string_view address) {
  bool quoted = false;
  for (std::size_t i = 0; i < address.size(); ++i) {
    const auto c = static_cast<unsigned char>(address[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (quoted) {
      if (c == '\\') {
        // quoted-pairSMTP (RFC 5321 §4.1.2): the next byte is literal, but still no controls.
        if (++i == address.size()) return false;
        const auto e = static_cast<unsigned char>(address[i]);
        if (e < 0x20 || e == 0x7f) return false;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '<' || c == '>') {
      // Outside quotes a '>' would close the path early and let the rest of the address be
      // read as ESMTP parameters (e.g. "a@b> NOTIFY=NEVER").
      return false;
    }
  }
  return !quoted;
}

bool is_safe_ehlo_name(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

void write_ehlo(std::string& out, std::string_view name) {
  out += "EHLO ";
  out.append(name);
  out += "\r\n";
}

void write_helo(std::string& out, std::string_view name) {
  out += "HELO ";
  out.append(name);
  out += "\r\n";
}

void write_mail_from(std::string& out, std::string_view from, std::string_view params) {
  // An empty sender is the null reverse-path "<>" (RFC 5321 §4.5.5, bounces and DSNs).
  out += "MAIL FROM:<";
  out.append(from);
  out += '>';
  if (!params.empty()) {
    out += ' ';
    out.append(params);
  }
  out += "\r\n";
}

void write_rcpt_to(std::string& out, std::string_view to, std::string_view params) {
  out += "RCPT TO:<";
  out.append(to);
  out += '>';
  if (!params.empty()) {
    out += ' ';
    out.append(params);
  }
  out += "\r\n";
}

void write_bdat(std::string& out, std::size_t octets, bool last) {
  out += fmt::format("BDAT {}{}\r\n", octets, last ? " LAST" : "");
}

void write_data(std::string& out) { out += "DATA\r\n"; }
void write_rset(std::string& out) { out += "RSET\r\n"; }
void write_quit(std::string& out) { out += "QUIT\r\n"; }
void write_starttls(std::string& out) { out += "STARTTLS\r\n"; }

}  // namespace ringpost::smtp
