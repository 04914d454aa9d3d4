// The two error categories of sign_error.h.
#include "dkim/sign_error.h"

#include "dkim/opendkim.h"

namespace ringpost::dkim {
namespace {

class DkimCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "dkim"; }
  std::string message(int ev) const override {
    switch (static_cast<SignErrc>(ev)) {
      case SignErrc::malformed_message: return "malformed message";
      case SignErrc::no_from_field: return "no From header field";
      case SignErrc::no_entries: return "no DKIM key to sign with";
    }
    return "unknown dkim error";
  }
};

class OpendkimCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "opendkim"; }
  std::string message(int ev) const override {
    const char* s = dkim_getresultstr(static_cast<DKIM_STAT>(ev));
    return s ? s : "unknown libopendkim status";
  }
};

}  // namespace

const std::error_category& dkim_category() {
  static const DkimCategory c;
  return c;
}

const std::error_category& opendkim_category() {
  static const OpendkimCategory c;
  return c;
}

}  // namespace ringpost::dkim
