// An SMTP reply as data (RFC 5321 §4.2), with the RFC 3463 enhanced status code when the
// server sent one. Replies are never errors in the C++ sense: a 5xx is an outcome to record.
#pragma once

#include <string>

namespace ringpost::smtp {

struct Reply {
  int code = 0;           // three-digit reply code; 0 = no reply (e.g. connection lost)
  std::string enhanced;   // "2.0.0" when present, else empty
  std::string text;       // all lines' text after the code (and enhanced code), joined by '\n'

  bool is_positive() const { return code >= 200 && code < 400; }
  bool is_transient() const { return code >= 400 && code < 500; }
  bool is_permanent() const { return code >= 500 && code < 600; }
  bool operator==(const Reply&) const = default;
};

}  // namespace ringpost::smtp
