// See sha256.h.
#include "dkim/sha256.h"

#include <openssl/evp.h>

#include <new>

namespace ringpost::dkim {
namespace {

// Fetched once and never freed: it lives as long as the default provider, i.e. the process.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || !sha256_md()) throw std::bad_alloc();
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::reset() { EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr); }

void Sha256::update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

Digest Sha256::final() {
  Digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, d.data(), &len);
  return d;
}

Digest sha256(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.final();
}

}  // namespace ringpost::dkim
