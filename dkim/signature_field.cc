// See signature_field.h.
#include "dkim/signature_field.h"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace ringpost::dkim {
namespace {

constexpr std::size_t kWidth = 76;

std::size_t column(const std::string& s) {
  const std::size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s.size() : s.size() - nl - 1;
}

// Appends " token", or CRLF TAB token when it would not fit on the line.
void token(std::string& out, std::string_view t) {
  if (column(out) + 1 + t.size() > kWidth)
    out += "\r\n\t";
  else
    out += ' ';
  out += t;
}

}  // namespace

std::string signature_prefix(const SignatureTags& tags) {
  std::string out;
  out.reserve(256 + tags.headers.size() * 16);
  out += kSignatureFieldName;
  out += ": v=1;";
  token(out, fmt::format("a={};", to_string(tags.algorithm)));
  token(out, fmt::format("c={};", to_string(tags.canon)));
  token(out, fmt::format("d={};", tags.domain));
  token(out, fmt::format("s={};", tags.selector));
  token(out, fmt::format("t={};", tags.time));
  token(out, fmt::format("bh={};", tags.body_hash_b64));
  // h= folds after a colon (FWS is allowed around each ':', §3.5 sig-h-tag).
  for (std::size_t i = 0; i < tags.headers.size(); ++i) {
    std::string t = fmt::format("{}{}{}", i == 0 ? "h=" : "", tags.headers[i], i + 1 == tags.headers.size() ? ";" : ":");
    if (i == 0 || column(out) + t.size() > kWidth)
      token(out, t);
    else
      out += t;
  }
  // "b=" where at least a few characters of the value fit after it.
  if (column(out) + 1 + 2 + 8 > kWidth)
    out += "\r\n\tb=";
  else
    out += " b=";
  return out;
}

void append_b(std::string& field, std::string_view b64) {
  std::size_t room = kWidth > column(field) ? kWidth - column(field) : 1;
  while (!b64.empty()) {
    const std::size_t n = std::min(room, b64.size());
    field.append(b64.substr(0, n));
    b64.remove_prefix(n);
    if (!b64.empty()) {
      field += "\r\n\t";
      room = kWidth - 1;
    }
  }
  field += "\r\n";
}

std::string base64(const void* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), static_cast<const unsigned char*>(data),
                                static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace ringpost::dkim
