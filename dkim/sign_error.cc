// The error category of sign_error.h.
#include "dkim/sign_error.h"

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
      case SignErrc::crypto_failed: return "the signature could not be made";
    }
    return "unknown dkim error";
  }
};

}  // namespace

const std::error_category& dkim_category() {
  static const DkimCategory c;
  return c;
}

}  // namespace ringpost::dkim
