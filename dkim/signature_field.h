// The DKIM-Signature header field text (RFC 6376 §3.5), folded with CRLF + TAB so no line
// passes 76 columns. Built in two steps because the signature covers the field itself with an
// empty b= (§3.7): prefix() is everything up to and including "b=", exactly as it will be
// sent; append_b() adds the folded value and the final CRLF. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dkim/sign_entry.h"

namespace ringpost::dkim {

struct SignatureTags {
  Algorithm algorithm = Algorithm::rsa_sha256;
  Canonicalization canon;
  std::string_view domain;    // d=
  std::string_view selector;  // s=
  int64_t time = 0;           // t=
  std::string_view body_hash_b64;              // bh=
  std::span<const std::string_view> headers;   // h=
};

inline constexpr std::string_view kSignatureFieldName = "DKIM-Signature";

// "DKIM-Signature: v=1; a=...; c=...; d=...; s=...; t=...; bh=...; h=...; b="
std::string signature_prefix(const SignatureTags& tags);

// Appends the b= value (base64, folded inside the value: FWS is allowed between its
// characters, §3.5) and CRLF. The value starts on the line of "b=", so a verifier deleting it
// (§3.7) gets back the prefix exactly.
void append_b(std::string& field, std::string_view b64);

// Standard base64 (RFC 4648 §4) with padding, as b= and bh= take it.
std::string base64(const void* data, std::size_t size);

}  // namespace ringpost::dkim
