// See server_tls.h.
#include "bench/sink/server_tls.h"

#include <openssl/err.h>

namespace ringpost::sink {

tl::expected<tls::SslCtxPtr, std::string> make_server_context(const std::string& cert_file,
                                                              const std::string& key_file) {
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  auto fail = [](const std::string& what) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return tl::make_unexpected(what + ": " + buf);
  };
  if (!ctx) return fail("SSL_CTX_new");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) return fail("certificate " + cert_file);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) return fail("key " + key_file);
  if (SSL_CTX_check_private_key(ctx.get()) != 1) return fail("key does not match the certificate");
  return ctx;
}

ServerTls::ServerTls(SSL_CTX* ctx) : ssl_(SSL_new(ctx)), in_(BIO_new(BIO_s_mem())), out_(BIO_new(BIO_s_mem())) {
  // An empty input BIO must read as "retry later", not EOF: more ciphertext is on its way.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

ServerTls::~ServerTls() { SSL_free(ssl_); }

void ServerTls::feed(std::string_view ciphertext) {
  if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

ServerTls::Status ServerTls::status_of(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return Status::want_io;
    case SSL_ERROR_ZERO_RETURN: return Status::closed;
    default:
      ERR_clear_error();
      return Status::error;
  }
}

ServerTls::Status ServerTls::handshake() {
  if (done_) return Status::ok;
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    done_ = true;
    return Status::ok;
  }
  return status_of(ret);
}

ServerTls::Status ServerTls::read(std::string& plain) {
  char buf[16384];
  bool got = false;
  for (;;) {
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_, buf, sizeof buf, &n);
    if (ret == 1) {
      plain.append(buf, n);
      got = true;
      continue;
    }
    Status s = status_of(ret);
    return (s == Status::want_io && got) ? Status::ok : s;
  }
}

ServerTls::Status ServerTls::write(std::string_view plain) {
  // A memory BIO never refuses a write, so SSL_write_ex takes everything in one call.
  std::size_t n = 0;
  if (plain.empty()) return Status::ok;
  int ret = SSL_write_ex(ssl_, plain.data(), plain.size(), &n);
  return ret == 1 ? Status::ok : status_of(ret);
}

void ServerTls::take_output(std::string& out) {
  char* data = nullptr;
  long n = BIO_get_mem_data(out_, &data);
  if (n <= 0) return;
  out.append(data, static_cast<std::size_t>(n));
  (void)BIO_reset(out_);
}

}  // namespace ringpost::sink
