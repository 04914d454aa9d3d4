// DKIM signing (RFC 6376 §5, RFC 8463): one message in, the DKIM-Signature header fields to
// prepend out. Canonicalization, header selection and the signature field are ours
// (dkim/body_hash, dkim/header_canon, dkim/signature_field); the signature is OpenSSL's, made
// with the key parsed once at load (SigningKey::pkey). Why not libopendkim:
// docs/adr/0003-dkim-signs-with-openssl.md.
//
// A Signer holds one thread's OpenSSL operation contexts (per key) and hash contexts, so it is
// used by one thread at a time; the keys it signs with are shared by every thread. No message
// state survives a call. The clock is never read here: the signing time (t=) is passed in.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <tl/expected.hpp>

#include "dkim/body_hash.h"
#include "dkim/message_view.h"
#include "dkim/sha256.h"
#include "dkim/sign_entry.h"
#include "dkim/sign_error.h"

namespace ringpost::dkim {

class Signer {
 public:
  Signer();
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // One "DKIM-Signature: ...\r\n" field per entry, in entry order (several entries = several
  // signatures, e.g. RSA + Ed25519 per RFC 8463 §5), folded with CRLF + TAB. Prepended to
  // `message`, they make a message that verifies.
  // Precondition: `message` is the exact bytes that will be sent, with CRLF line ends (as
  // api::render_message produces); its header section is checked, its body is hashed as is.
  tl::expected<std::string, SignError> sign(std::string_view message, std::span<const SignEntry> entries,
                                            int64_t now_unix_seconds);
  // The same over a message already split (split_message), to split it only once. `body`: the
  // body hashes already computed (hash_body), for the canonicalizations the entries use; the
  // ones missing are computed here.
  tl::expected<std::string, SignError> sign(const MessageView& message, std::span<const SignEntry> entries,
                                            int64_t now_unix_seconds, const BodyHashes* body = nullptr);

  // The body hashes `entries` need, each canonicalization once (BodyHasher::hash).
  BodyHashes hash_body(std::string_view body, std::span<const SignEntry> entries,
                       const std::function<void(std::string_view)>& also = {});

 private:
  struct KeyContext;
  KeyContext* context_for(const std::shared_ptr<const SigningKey>& key);
  tl::expected<std::string, SignError> sign_one(const MessageView& message, const SignEntry& e,
                                                const Digest& body_hash, int64_t now_unix_seconds);

  BodyHasher body_hasher_;
  Sha256 header_hash_;
  std::string header_data_;  // reused: the canonicalized header fields of one signature
  std::unordered_map<const SigningKey*, std::unique_ptr<KeyContext>> contexts_;
};

// "OpenSSL 3.0.19 27 Jan 2026" for logs and benchmark reports.
std::string library_version();

// The same with a fresh Signer: a pure function, safe from any thread; for tests and one-off
// use (it pays for the per-thread contexts on every call).
tl::expected<std::string, SignError> sign(std::string_view message, std::span<const SignEntry> entries,
                                          int64_t now_unix_seconds);

}  // namespace ringpost::dkim
