// SHA-256 for DKIM's two hashes (RFC 6376 §3.7: body hash, then header hash), over OpenSSL's EVP
// interface with the algorithm fetched once per process: OpenSSL 3 otherwise looks the
// implementation up in its provider store on every EVP_DigestInit_ex, which costs more than
// hashing a 1 KiB header section. One object per thread; reusable after final().
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

struct evp_md_ctx_st;  // EVP_MD_CTX

namespace ringpost::dkim {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();  // start a new hash
  void update(std::string_view bytes);
  Digest final();  // the digest; reset() before the next use

 private:
  evp_md_ctx_st* ctx_;
};

// One-shot convenience.
Digest sha256(std::string_view bytes);

}  // namespace ringpost::dkim
