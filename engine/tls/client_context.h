// The SSL_CTX for outbound SMTP (RFC 3207 STARTTLS): protocol floor, trust store, verification
// mode, session capture. Built once at start-up; after make() it is only read, so every shard
// may create TlsEngines from the same context (OpenSSL allows concurrent SSL_new on one
// SSL_CTX). Invariant: verify == true means SSL_VERIFY_PEER plus a host-name check against the
// name each TlsEngine::client() is given; verify == false is opportunistic TLS (RFC 7435):
// no certificate problem fails the handshake, but the verify result is still computed.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include <tl/expected.hpp>

#include "engine/tls/ssl_ptr.h"

namespace ringpost::tls {

struct ClientTlsOptions {
  // false: opportunistic, the SMTP default (RFC 7435, RFC 3207 §4.1); true: a policy such as
  // MTA-STS "enforce" (RFC 8461) or a configured route that demands an authenticated peer.
  bool verify = false;
  std::string ca_file;                  // PEM bundle; empty = OpenSSL's system default paths
  std::string min_protocol = "TLSv1.2";  // "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
  std::string max_protocol;              // same names; empty = newest the library supports
};

class ClientContext {
 public:
  // Errors: unknown protocol name, min above max, unreadable CA file (with OpenSSL's text).
  static tl::expected<ClientContext, std::string> make(const ClientTlsOptions& options);

  SSL_CTX* get() const { return ctx_.get(); }
  const ClientTlsOptions& options() const { return options_; }
  bool verify() const { return options_.verify; }

 private:
  ClientContext(SslCtxPtr ctx, ClientTlsOptions options) : ctx_(std::move(ctx)), options_(std::move(options)) {}

  SslCtxPtr ctx_;
  ClientTlsOptions options_;
};

}  // namespace ringpost::tls
