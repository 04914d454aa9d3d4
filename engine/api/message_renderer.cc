// Message rendering. Invariant of the output: CRLF line ends only, no line over 998 octets
// (given validated input), exactly one Message-ID and one Date, no Bcc field. Precondition:
// the SubmitMessage came from parse_submit/parse_batch; values are not re-checked here.
#include "engine/api/message_renderer.h"

#include <array>

#include <fmt/format.h>

#include "engine/api/ascii.h"
#include "engine/api/header_writer.h"
#include "engine/api/line_endings.h"
#include "engine/api/mail_date.h"
#include "engine/api/mime_boundary.h"
#include "engine/api/transfer_encoding.h"

namespace ringpost::api {
namespace {

struct EncodedPart {
  std::string_view transfer_encoding;
  std::string bytes;
};

// Text from JSON arrives with LF (or CRLF, or CR) line ends; RFC 2045 §2.10 canonical form is
// CRLF, and the 7bit test and QP encoder both work on that form.
EncodedPart encode_part(std::string_view content) {
  std::string crlf = to_crlf(content);
  if (is_7bit(crlf)) return {"7bit", std::move(crlf)};
  return {"quoted-printable", quoted_printable_encode(crlf)};
}

void append_part_headers(std::string& out, std::string_view media_type, const EncodedPart& part) {
  append_field(out, "Content-Type", fmt::format("{}; charset=utf-8", media_type));
  append_field(out, "Content-Transfer-Encoding", part.transfer_encoding);
}

std::string message_id_field(std::string_view message_id, std::string_view hostname) {
  return fmt::format("<{}@{}>", message_id, hostname);
}

// The field name of a header line ("Message-ID" from "Message-ID: <x@y>"), or empty for a
// line without a colon. WSP before the colon is obsolete syntax but still seen (RFC 5322 §4.5).
std::string_view field_name_of(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return {};
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  return name;
}

std::string render_raw(std::string_view raw, std::string_view message_id, std::string_view hostname,
                       int64_t now_unix_seconds) {
  const std::string msg = to_crlf(raw);
  // The header section ends at the first empty line (RFC 5322 §2.1). The validator ensures
  // there is one; without it, everything is treated as header and an empty body is added.
  std::size_t header_end = msg.size(), body_start = std::string::npos;
  if (msg.starts_with("\r\n")) {
    header_end = 0, body_start = 2;
  } else if (const std::size_t blank = msg.find("\r\n\r\n"); blank != std::string::npos) {
    header_end = blank + 2, body_start = blank + 4;
  }

  std::string out;
  out.reserve(msg.size() + 128);
  bool has_message_id = false, has_date = false, dropping = false;
  for (std::size_t pos = 0; pos < header_end;) {
    std::size_t eol = msg.find("\r\n", pos);
    if (eol == std::string::npos || eol > header_end) eol = header_end;
    const std::string_view line(msg.data() + pos, eol - pos);
    pos = eol + 2;
    // A line starting with WSP continues the previous field (RFC 5322 §2.2.3) and shares its fate.
    if (line.empty() || !is_wsp(line.front())) {
      const std::string_view name = field_name_of(line);
      has_message_id = has_message_id || ascii_iequals(name, "Message-ID");
      has_date = has_date || ascii_iequals(name, "Date");
      // A Bcc field would show every recipient the blind-copied addresses; RFC 5322 §3.6.3
      // lets the sender remove it, and the envelope (bcc in the request) is what delivers.
      dropping = ascii_iequals(name, "Bcc");
    }
    if (dropping) continue;
    out += line;
    out += "\r\n";
  }
  if (!has_message_id) append_field(out, "Message-ID", message_id_field(message_id, hostname));
  if (!has_date) append_field(out, "Date", rfc5322_date(now_unix_seconds));
  out += "\r\n";
  if (body_start != std::string::npos) out.append(msg, body_start);
  return out;
}

std::string render_generated(const SubmitMessage& m, std::string_view message_id, std::string_view hostname,
                             int64_t now_unix_seconds) {
  std::string out;
  out.reserve(512 + m.text.size() + m.html.size() + 32 * (m.to.size() + m.cc.size()));
  append_field(out, "From", m.from);
  if (!m.to.empty()) append_address_list_field(out, "To", m.to);
  if (!m.cc.empty()) append_address_list_field(out, "Cc", m.cc);
  if (!m.subject.empty()) append_unstructured_field(out, "Subject", m.subject);
  append_field(out, "Date", rfc5322_date(now_unix_seconds));
  append_field(out, "Message-ID", message_id_field(message_id, hostname));
  append_field(out, "MIME-Version", "1.0");
  for (const auto& [name, value] : m.headers) append_field(out, name, value);

  if (!m.text.empty() && !m.html.empty()) {
    // RFC 2046 §5.1.4: alternatives in increasing order of preference, so plain text first.
    const EncodedPart text = encode_part(m.text);
    const EncodedPart html = encode_part(m.html);
    const std::array<std::string_view, 2> parts = {text.bytes, html.bytes};
    const std::string boundary = choose_boundary(message_id, parts);
    // The parameter is quoted because '=' is a tspecial (RFC 2045 §5.1); folded because
    // the line would pass 78 octets.
    out += fmt::format("Content-Type: multipart/alternative;\r\n boundary=\"{}\"\r\n\r\n", boundary);
    for (const auto& [media_type, part] : {std::pair{"text/plain", &text}, std::pair{"text/html", &html}}) {
      out += fmt::format("--{}\r\n", boundary);
      append_part_headers(out, media_type, *part);
      out += "\r\n";
      out += part->bytes;
      // The CRLF before "--boundary" belongs to the delimiter, not to the part (RFC 2046 §5.1.1).
      out += "\r\n";
    }
    out += fmt::format("--{}--\r\n", boundary);
    return out;
  }

  const bool is_text = !m.text.empty();
  const EncodedPart body = encode_part(is_text ? m.text : m.html);
  append_part_headers(out, is_text ? "text/plain" : "text/html", body);
  out += "\r\n";
  // Not padded with a final CRLF: that would change the content. The DATA writer adds the CRLF
  // before the terminating "." when the body lacks one (RFC 5321 §4.1.1.4).
  out += body.bytes;
  return out;
}

}  // namespace

std::string render_message(const SubmitMessage& m, std::string_view message_id, std::string_view hostname,
                           int64_t now_unix_seconds) {
  if (m.raw) return render_raw(*m.raw, message_id, hostname, now_unix_seconds);
  return render_generated(m, message_id, hostname, now_unix_seconds);
}

}  // namespace ringpost::api
