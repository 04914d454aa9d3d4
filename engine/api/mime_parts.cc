// MIME entities, RFC 2045 §6 (encodings) and RFC 2046 §5.1 (multipart). Invariant: a part's
// body never contains "--" + the boundary of a multipart around it, because the boundary is
// chosen after the inner parts are complete and checked against all of their bytes.
#include "engine/api/mime_parts.h"

#include <vector>

#include <fmt/format.h>

#include "engine/api/base64.h"
#include "engine/api/header_writer.h"
#include "engine/api/line_endings.h"
#include "engine/api/mime_boundary.h"
#include "engine/api/mime_params.h"
#include "engine/api/transfer_encoding.h"

namespace ringpost::api {

MimePart text_part(std::string_view media_type, std::string_view text) {
  // Text from JSON arrives with LF (or CRLF, or CR) line ends; RFC 2045 §2.10 canonical form
  // is CRLF, and the 7bit test, QP and base64 (§6.8: text is encoded in canonical form) all
  // work on that form.
  EncodedText encoded = encode_text_body(to_crlf(text));
  MimePart p;
  append_field(p.headers, "Content-Type", fmt::format("{}; charset=utf-8", media_type));
  append_field(p.headers, "Content-Transfer-Encoding", encoded.transfer_encoding);
  p.body = std::move(encoded.bytes);
  return p;
}

MimePart attachment_part(const Attachment& a) {
  const bool is_inline = !a.content_id.empty();
  MimePart p;
  p.headers = "Content-Type: " + a.content_type;
  append_param(p.headers, "name", a.filename);
  p.headers += "\r\nContent-Disposition: ";
  p.headers += is_inline ? "inline" : "attachment";
  append_param(p.headers, "filename", a.filename);
  p.headers += "\r\n";
  if (is_inline) append_field(p.headers, "Content-ID", fmt::format("<{}>", a.content_id));
  append_field(p.headers, "Content-Transfer-Encoding", "base64");
  p.body = base64_lines(a.content);
  return p;
}

MimePart multipart(std::string_view subtype, std::string_view seed, std::span<const MimePart> parts,
                   std::string_view root_type) {
  std::vector<std::string_view> contents;
  contents.reserve(parts.size() * 2);
  std::size_t size = 0;
  for (const MimePart& part : parts) {
    contents.push_back(part.headers);
    contents.push_back(part.body);
    size += part.headers.size() + part.body.size() + 100;
  }
  const std::string boundary = choose_boundary(seed, contents);
  MimePart m;
  // The parameter is quoted because '=' is a tspecial (RFC 2045 §5.1); folded because the
  // line would pass 78 octets.
  m.headers = fmt::format("Content-Type: multipart/{};\r\n", subtype);
  if (!root_type.empty()) m.headers += fmt::format(" type=\"{}\";\r\n", root_type);
  m.headers += fmt::format(" boundary=\"{}\"\r\n", boundary);
  m.body.reserve(size);
  for (const MimePart& part : parts) {
    m.body += "--";
    m.body += boundary;
    m.body += "\r\n";
    m.body += part.headers;
    m.body += "\r\n";
    m.body += part.body;
    // The CRLF before "--boundary" belongs to the delimiter, not to the part (RFC 2046 §5.1.1).
    m.body += "\r\n";
  }
  m.body += "--";
  m.body += boundary;
  m.body += "--\r\n";
  return m;
}

}  // namespace ringpost::api
