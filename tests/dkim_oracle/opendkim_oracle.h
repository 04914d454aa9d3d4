// libopendkim as a reference signer for tests and benchmarks (see opendkim_oracle.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <tl/expected.hpp>

#include "dkim/message_view.h"
#include "dkim/sign_entry.h"
#include "dkim/sign_error.h"

struct dkim_lib;  // libopendkim's DKIM_LIB

namespace ringpost::dkim_test {

class OpendkimSigner {
 public:
  OpendkimSigner();
  ~OpendkimSigner();
  OpendkimSigner(const OpendkimSigner&) = delete;
  OpendkimSigner& operator=(const OpendkimSigner&) = delete;

  tl::expected<std::string, dkim::SignError> sign(std::string_view message, std::span<const dkim::SignEntry> entries,
                                                  int64_t now_unix_seconds);
  tl::expected<std::string, dkim::SignError> sign(const dkim::MessageView& message,
                                                  std::span<const dkim::SignEntry> entries, int64_t now_unix_seconds);

 private:
  struct LibClose {
    void operator()(dkim_lib* lib) const;
  };
  using LibPtr = std::unique_ptr<dkim_lib, LibClose>;
  tl::expected<dkim_lib*, dkim::SignError> lib_for(const dkim::SignEntry& e);

  std::unordered_map<std::string, LibPtr> libs_;
};

// "libopendkim 2.11.0 with OpenSSL 3.0.19 ..."
std::string opendkim_version();

tl::expected<std::string, dkim::SignError> opendkim_sign(std::string_view message,
                                                         std::span<const dkim::SignEntry> entries,
                                                         int64_t now_unix_seconds);

}  // namespace ringpost::dkim_test
