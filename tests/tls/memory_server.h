// Test harness: an OpenSSL server on its own BIO pair (no socket), and a Link that moves
// ciphertext between it and a TlsEngine client in pieces of chosen sizes. Test code only.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tls/ssl_ptr.h"
#include "engine/tls/tls_engine.h"

namespace ringpost::tls::testing {

// A server SSL_CTX with `cert_chain` + `key`; max_version 0 = library maximum. Shared by the
// connections of one test so that session resumption (cache and ticket keys) works.
SslCtxPtr make_server_ctx(const std::string& cert_chain, const std::string& key, int max_version = 0);

class MemoryTlsServer {
 public:
  explicit MemoryTlsServer(SSL_CTX* ctx);
  ~MemoryTlsServer();
  MemoryTlsServer(const MemoryTlsServer&) = delete;
  MemoryTlsServer& operator=(const MemoryTlsServer&) = delete;

  // One SSL_do_handshake step; true once complete. Sets failed() on a fatal error.
  bool handshake();
  bool done() const { return done_; }
  bool failed() const { return failed_; }
  // Plaintext. write() takes what fits (partial writes on); read() appends what is available
  // and returns false once the client's close_notify has been seen.
  std::size_t write(std::string_view plain);
  bool read(std::string& out);
  void shutdown() { SSL_shutdown(ssl_); }
  std::string sni() const;
  SSL* ssl() { return ssl_; }
  BIO* net() { return net_; }  // the network half: BIO_write what the client sent, BIO_read what to send it

 private:
  SSL* ssl_ = nullptr;
  BIO* net_ = nullptr;
  bool done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
};

// Moves ciphertext both ways, each transfer at most the next size from `pieces` (cycled), to
// exercise record reassembly at odd boundaries. The client side uses the zero-copy contract:
// peek_output/consume_output and input_buffer/commit_input.
class Link {
 public:
  Link(TlsEngine& client, MemoryTlsServer& server, std::vector<std::size_t> pieces = {1u << 20})
      : c_(client), s_(server), pieces_(std::move(pieces)) {}

  std::size_t client_to_server();  // one piece; returns bytes moved
  std::size_t server_to_client();
  std::size_t pump();              // both directions until neither moves; total moved

  // Drives both handshakes to completion (or until one side fails / nothing moves).
  // Returns the client's last status.
  TlsEngine::Status handshake();

 private:
  std::size_t piece() { return pieces_[next_++ % pieces_.size()]; }
  TlsEngine& c_;
  MemoryTlsServer& s_;
  std::vector<std::size_t> pieces_;
  std::size_t next_ = 0;
};

}  // namespace ringpost::tls::testing
