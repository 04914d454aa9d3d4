// Message rendering. Invariant of the output: CRLF line ends only, no line over 998 octets
// (given validated input), exactly one Message-ID and one Date, no Bcc field. Precondition:
// the SubmitMessage came from parse_submit/parse_batch; values are not re-checked here.
#include "engine/api/message_renderer.h"

#include <array>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "engine/api/ascii.h"
#include "engine/api/header_writer.h"
#include "engine/api/line_endings.h"
#include "engine/api/mail_date.h"
#include "engine/api/mime_parts.h"

namespace ringpost::api {
namespace {

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

std::vector<NamedAddress> with_names(const std::vector<std::string>& addresses, const std::vector<std::string>& names) {
  std::vector<NamedAddress> out;
  out.reserve(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) out.push_back({addresses[i], i < names.size() ? names[i] : ""});
  return out;
}

// The MIME tree, innermost first:
//   html, or multipart/related (html, inline attachments...) when there are inline ones;
//   then text, that, or multipart/alternative (text, that);
//   then that, or multipart/mixed (that, attachments...) when there are regular ones.
// Boundary seeds differ in their first character ("", "r", "m" before the id), so no boundary
// is a prefix of another and even a reader that matches delimiters by prefix splits correctly.
MimePart body_of(const SubmitMessage& m, std::string_view message_id) {
  std::vector<MimePart> inline_parts(1), attached(1);  // slot 0: the part they go around
  for (const Attachment& a : m.attachments) (a.content_id.empty() ? attached : inline_parts).push_back(attachment_part(a));

  std::optional<MimePart> html;
  if (!m.html.empty()) {
    html = text_part("text/html", m.html);
    if (inline_parts.size() > 1) {
      inline_parts[0] = std::move(*html);
      html = multipart("related", fmt::format("r{}", message_id), inline_parts, "text/html");
    }
  }
  MimePart core;
  if (!m.text.empty() && html) {
    // RFC 2046 §5.1.4: alternatives in increasing order of preference, so plain text first.
    const std::array<MimePart, 2> alternatives = {text_part("text/plain", m.text), std::move(*html)};
    core = multipart("alternative", message_id, alternatives);
  } else {
    core = html ? std::move(*html) : text_part("text/plain", m.text);
  }
  if (attached.size() == 1) return core;
  attached[0] = std::move(core);
  return multipart("mixed", fmt::format("m{}", message_id), attached);
}

std::string render_generated(const SubmitMessage& m, std::string_view message_id, std::string_view hostname,
                             int64_t now_unix_seconds) {
  const MimePart body = body_of(m, message_id);
  std::string out;
  out.reserve(512 + body.headers.size() + body.body.size() + 64 * (m.to.size() + m.cc.size() + m.reply_to.size()));
  const NamedAddress from{m.from, m.from_name};
  append_mailbox_list_field(out, "From", std::span(&from, 1));
  if (!m.reply_to.empty()) append_mailbox_list_field(out, "Reply-To", m.reply_to);
  if (!m.to.empty()) append_mailbox_list_field(out, "To", with_names(m.to, m.to_names));
  if (!m.cc.empty()) append_mailbox_list_field(out, "Cc", with_names(m.cc, m.cc_names));
  if (!m.subject.empty()) append_unstructured_field(out, "Subject", m.subject);
  append_field(out, "Date", rfc5322_date(now_unix_seconds));
  append_field(out, "Message-ID", message_id_field(message_id, hostname));
  append_field(out, "MIME-Version", "1.0");
  for (const auto& [name, value] : m.headers) append_field(out, name, value);
  out += body.headers;
  out += "\r\n";
  // Not padded with a final CRLF: that would change a single part's content. The DATA writer
  // adds the CRLF before the terminating "." when the body lacks one (RFC 5321 §4.1.1.4).
  out += body.body;
  return out;
}

}  // namespace

std::string render_message(const SubmitMessage& m, std::string_view message_id, std::string_view hostname,
                           int64_t now_unix_seconds) {
  if (m.raw) return render_raw(*m.raw, message_id, hostname, now_unix_seconds);
  return render_generated(m, message_id, hostname, now_unix_seconds);
}

}  // namespace ringpost::api
