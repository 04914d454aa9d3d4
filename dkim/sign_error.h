// Why a message could not be signed: an error_code (libopendkim's DKIM_STAT in the "opendkim"
// category, or our own SignErrc in the "dkim" category) plus the detail libopendkim or the
// parser gave. Plain data; any thread.
#pragma once

#include <string>
#include <system_error>

namespace ringpost::dkim {

enum class SignErrc {
  malformed_message = 1,  // header section cannot be split into fields (bare LF, no colon, ...)
  no_from_field = 2,      // RFC 6376 §5.4: From must be signed, so it must be there
  no_entries = 3,         // sign() called with nothing to sign with
};

const std::error_category& dkim_category();     // SignErrc
const std::error_category& opendkim_category();  // DKIM_STAT_* values (dkim_getresultstr)

inline std::error_code make_error_code(SignErrc e) { return {static_cast<int>(e), dkim_category()}; }
inline std::error_code opendkim_error(int dkim_stat) { return {dkim_stat, opendkim_category()}; }

struct SignError {
  std::error_code code;
  std::string detail;  // e.g. "header line at offset 42 has no colon", libopendkim's dkim_geterror()
  std::string message() const { return detail.empty() ? code.message() : code.message() + ": " + detail; }
};

}  // namespace ringpost::dkim

template <>
struct std::is_error_code_enum<ringpost::dkim::SignErrc> : std::true_type {};
