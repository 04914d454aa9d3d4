// See openssl_error.h.
#include "engine/tls/openssl_error.h"

#include <openssl/err.h>

namespace ringpost::tls {

std::string drain_openssl_errors() {
  std::string text;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
    // Extra detail some errors carry, e.g. the file name for a failed load.
    if ((flags & ERR_TXT_STRING) && data && *data) {
      text += " (";
      text += data;
      text += ')';
    }
  }
  return text;
}

}  // namespace ringpost::tls
