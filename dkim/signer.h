// DKIM signing (RFC 6376 §5, RFC 8463) over libopendkim: one message in, the DKIM-Signature
// header fields to prepend out. A Signer owns libopendkim library handles, one per distinct
// header configuration (the h= and over-sign lists are library options, compiled to regular
// expressions once instead of per message), and is used by one thread at a time (it sets the
// library-wide signing time per call). No message state survives a call. The clock is never
// read here: the signing time (t=) is passed in.
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

struct dkim_lib;  // libopendkim's DKIM_LIB, kept out of this header

namespace ringpost::dkim {

class Signer {
 public:
  Signer();
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // One "DKIM-Signature: ...\r\n" field per entry, in entry order (several entries = several
  // signatures, e.g. RSA + Ed25519 per RFC 8463 §5), folded at 75 columns with CRLF. Prepended
  // to `message`, they make a message that verifies.
  // Precondition: `message` is the exact bytes that will be sent, with CRLF line ends (as
  // api::render_message produces); its header section is checked, its body is hashed as is.
  tl::expected<std::string, SignError> sign(std::string_view message, std::span<const SignEntry> entries,
                                            int64_t now_unix_seconds);
  // The same over a message already split (split_message), to split it only once.
  tl::expected<std::string, SignError> sign(const MessageView& message, std::span<const SignEntry> entries,
                                            int64_t now_unix_seconds);

 private:
  struct LibClose {
    void operator()(dkim_lib* lib) const;
  };
  using LibPtr = std::unique_ptr<dkim_lib, LibClose>;
  // The library handle configured with `e`'s header lists; made on first use.
  tl::expected<dkim_lib*, SignError> lib_for(const SignEntry& e);

  std::unordered_map<std::string, LibPtr> libs_;  // key: h= list + over-sign list
};

// "libopendkim 2.11.0 with OpenSSL 3.0.19 ..." for logs and benchmark reports.
std::string library_version();

// The same with a fresh Signer, so it pays the per-configuration setup (tens of µs) on every
// call: a pure function, safe from any thread; for tests and one-off use.
tl::expected<std::string, SignError> sign(std::string_view message, std::span<const SignEntry> entries,
                                          int64_t now_unix_seconds);

}  // namespace ringpost::dkim
