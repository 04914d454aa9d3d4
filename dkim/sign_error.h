// Why a message could not be signed: a SignErrc in the "dkim" category plus the detail the
// parser or OpenSSL gave. Plain data; any thread.
#pragma once

#include <string>
#include <system_error>

namespace ringpost::dkim {

enum class SignErrc {
  malformed_message = 1,  // header section cannot be split into fields (bare LF, no colon, ...)
  no_from_field = 2,      // RFC 6376 §5.4: From must be signed, so it must be there
  no_entries = 3,         // sign() called with nothing to sign with
  crypto_failed = 4,      // OpenSSL refused to make the signature (detail: its error queue)
};

const std::error_category& dkim_category();  // SignErrc

inline std::error_code make_error_code(SignErrc e) { return {static_cast<int>(e), dkim_category()}; }

struct SignError {
  std::error_code code;
  std::string detail;  // e.g. "header line at offset 42 has no colon", OpenSSL's error string
  std::string message() const { return detail.empty() ? code.message() : code.message() + ": " + detail; }
};

}  // namespace ringpost::dkim

template <>
struct std::is_error_code_enum<ringpost::dkim::SignErrc> : std::true_type {};
