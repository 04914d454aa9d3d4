// See memory_server.h.
#include "tests/tls/memory_server.h"

#include <openssl/err.h>

#include <algorithm>
#include <stdexcept>

namespace ringpost::tls::testing {

SslCtxPtr make_server_ctx(const std::string& cert_chain, const std::string& key, int max_version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), cert_chain.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("server ctx: cannot load " + cert_chain);
  if (max_version) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  static const unsigned char kSidCtx[] = "ringpost-tls-tests";
  SSL_CTX_set_session_id_context(ctx.get(), kSidCtx, sizeof kSidCtx - 1);
  return ctx;
}

MemoryTlsServer::MemoryTlsServer(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  BIO* internal = nullptr;
  BIO_new_bio_pair(&internal, 64 * 1024, &net_, 64 * 1024);
  SSL_set_bio(ssl_, internal, internal);
  SSL_set_accept_state(ssl_);
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

MemoryTlsServer::~MemoryTlsServer() {
  SSL_free(ssl_);
  BIO_free(net_);
}

bool MemoryTlsServer::handshake() {
  if (done_ || failed_) return done_;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    done_ = true;
  } else {
    const int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) failed_ = true;
  }
  ERR_clear_error();
  return done_;
}

std::size_t MemoryTlsServer::write(std::string_view plain) {
  std::size_t n = 0;
  ERR_clear_error();
  if (plain.empty() || SSL_write_ex(ssl_, plain.data(), plain.size(), &n) != 1) n = 0;
  ERR_clear_error();
  return n;
}

bool MemoryTlsServer::read(std::string& out) {
  if (peer_closed_) return false;
  char buf[16384];
  for (;;) {
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
      out.append(buf, n);
      continue;
    }
    const int e = SSL_get_error(ssl_, 0);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) peer_closed_ = true;
    else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) failed_ = true;
    return !peer_closed_;
  }
}

std::string MemoryTlsServer::sni() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

std::size_t Link::client_to_server() {
  std::string_view out = c_.peek_output();
  if (out.empty()) return 0;
  const std::size_t want = std::min(out.size(), piece());
  const int w = BIO_write(s_.net(), out.data(), static_cast<int>(want));
  if (w <= 0) return 0;
  c_.consume_output(static_cast<std::size_t>(w));
  return static_cast<std::size_t>(w);
}

std::size_t Link::server_to_client() {
  const std::size_t pending = BIO_ctrl_pending(s_.net());
  if (pending == 0) return 0;
  std::span<char> room = c_.input_buffer();
  const std::size_t want = std::min({pending, room.size(), piece()});
  const int r = want ? BIO_read(s_.net(), room.data(), static_cast<int>(want)) : 0;
  c_.commit_input(r > 0 ? static_cast<std::size_t>(r) : 0);
  return r > 0 ? static_cast<std::size_t>(r) : 0;
}

std::size_t Link::pump() {
  std::size_t total = 0;
  for (;;) {
    const std::size_t moved = client_to_server() + server_to_client();
    if (moved == 0) return total;
    total += moved;
  }
}

TlsEngine::Status Link::handshake() {
  TlsEngine::Status st = TlsEngine::Status::want_io;
  int idle_rounds = 0;
  while (idle_rounds < 2) {
    st = c_.handshake();
    s_.handshake();
    if (st == TlsEngine::Status::error || s_.failed()) {
      pump();  // deliver the alert, as a driver flushes before closing
      s_.handshake();
      return c_.handshake();
    }
    if (st == TlsEngine::Status::ok && s_.done() && c_.output_pending() == 0) return st;
    // One piece each way per round, so each side sees its input arrive in fragments.
    const std::size_t moved = client_to_server() + server_to_client();
    idle_rounds = moved == 0 ? idle_rounds + 1 : 0;
  }
  return st;  // stalled: nothing moved twice in a row
}

}  // namespace ringpost::tls::testing
