// Server-side STARTTLS for `ringpost sink`: OpenSSL over two memory BIOs, no fd, so the sink's
// io_uring loop keeps doing every recv and send. engine/tls's TlsEngine is client-only (its
// constructor is private and sets SNI and peer checks), and a benchmark sink can afford the
// copies that memory BIOs make. Owned by the sink's thread. RFC 3207, RFC 8446.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/tls/ssl_ptr.h"

namespace ringpost::sink {

// A server context from PEM files (certificate chain, private key). Session tickets stay on
// (OpenSSL's default), so clients that resume can.
tl::expected<tls::SslCtxPtr, std::string> make_server_context(const std::string& cert_file,
                                                              const std::string& key_file);

class ServerTls {
 public:
  enum class Status { ok, want_io, closed, error };

  explicit ServerTls(SSL_CTX* ctx);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  void feed(std::string_view ciphertext);  // bytes received from the client
  Status handshake();                      // ok once complete; call after each feed() until then
  Status read(std::string& plain);         // appends what is available; ok / want_io / closed / error
  Status write(std::string_view plain);    // encrypts everything into the output
  void take_output(std::string& out);      // appends ciphertext to send
  bool handshake_done() const { return done_; }
  bool session_reused() const { return SSL_session_reused(ssl_) == 1; }

 private:
  Status status_of(int ret);
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool done_ = false;
};

}  // namespace ringpost::sink
