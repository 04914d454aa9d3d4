// Owning handles for OpenSSL objects used across engine/tls. Header-only; no thread affinity of
// its own (OpenSSL refcounts are atomic), but see each user for who may touch the object.
#pragma once

#include <openssl/ssl.h>

#include <memory>

namespace ringpost::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SessionFree {
  void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
// One reference to an SSL_SESSION. OpenSSL's "caller owns" / "takes ownership" conventions for
// raw SSL_SESSION* become this type, so a forgotten SSL_SESSION_free is a compile error rather
// than a leak.
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

}  // namespace ringpost::tls
