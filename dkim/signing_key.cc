// Key parsing, public-key extraction and key generation with OpenSSL 3's EVP API. Runs at
// config load and in `ringpost dkim keygen`, never on the message path.
#include "dkim/signing_key.h"

#include "dkim/text.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ringpost::dkim {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;


std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

tl::expected<std::string, std::string> public_key_b64(EVP_PKEY* pkey, Algorithm alg) {
  if (alg == Algorithm::ed25519_sha256) {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != sizeof raw)
      return tl::make_unexpected(fmt::format("cannot extract the Ed25519 public key: {}", openssl_errors()));
    return base64(raw, len);
  }
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return tl::make_unexpected(fmt::format("cannot encode the RSA public key: {}", openssl_errors()));
  std::string out = base64(der, static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// One throw-away signature, so the first message does not pay the key's setup (RSA: the
// Montgomery contexts and blinding OpenSSL caches in the key, ~380 us for RSA-2048), and a key
// OpenSSL cannot sign with fails at load instead of on every message.
tl::expected<void, std::string> warm_up(EVP_PKEY* pkey, Algorithm algorithm) {
  const unsigned char digest[32] = {};
  unsigned char sig[1024];
  std::size_t len = sizeof sig;
  bool ok = false;
  if (algorithm == Algorithm::rsa_sha256) {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey, nullptr));
    ok = ctx && EVP_PKEY_sign_init(ctx.get()) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
         EVP_PKEY_sign(ctx.get(), sig, &len, digest, sizeof digest) == 1;
  } else {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    ok = md && EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, pkey) == 1 &&
         EVP_DigestSign(md.get(), sig, &len, digest, sizeof digest) == 1;
  }
  if (!ok) return tl::make_unexpected(fmt::format("OpenSSL cannot sign with this key: {}", openssl_errors()));
  return {};
}

tl::expected<SigningKey, std::string> parse(std::string_view pem, const Algorithm* expected) {
  ERR_clear_error();
  if (pem.find("-----BEGIN") == std::string_view::npos)
    return tl::make_unexpected(std::string("not a PEM file (no \"-----BEGIN\" line)"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return tl::make_unexpected(fmt::format("out of memory: {}", openssl_errors()));
  // A null passphrase callback: an encrypted key fails here instead of prompting on a tty.
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!pkey) return tl::make_unexpected(fmt::format("not an unencrypted PEM private key: {}", openssl_errors()));

  SigningKey key;
  const int id = EVP_PKEY_get_base_id(pkey.get());
  if (id == EVP_PKEY_RSA) {
    key.algorithm = Algorithm::rsa_sha256;
  } else if (id == EVP_PKEY_ED25519) {
    key.algorithm = Algorithm::ed25519_sha256;
  } else {
    return tl::make_unexpected(fmt::format("a {} key; DKIM signs with RSA or Ed25519 keys",
                                           OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown"));
  }
  if (expected && *expected != key.algorithm)
    return tl::make_unexpected(fmt::format("an {} key, but algorithm is {}",
                                           key.algorithm == Algorithm::rsa_sha256 ? "RSA" : "Ed25519",
                                           to_string(*expected)));
  key.bits = static_cast<unsigned>(EVP_PKEY_get_bits(pkey.get()));
  if (key.algorithm == Algorithm::rsa_sha256 && (key.bits < kMinRsaBits || key.bits > kMaxRsaBits))
    return tl::make_unexpected(fmt::format("an RSA key of {} bits; DKIM needs {} to {} (RFC 8301 §3.2)", key.bits,
                                           kMinRsaBits, kMaxRsaBits));
  auto pub = public_key_b64(pkey.get(), key.algorithm);
  if (!pub) return tl::make_unexpected(pub.error());
  key.public_key_b64 = std::move(*pub);
  key.private_pem = std::string(pem);
  if (auto warm = warm_up(pkey.get(), key.algorithm); !warm) return tl::make_unexpected(warm.error());
  key.pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  return key;
}

}  // namespace

tl::expected<SigningKey, std::string> parse_signing_key(std::string_view pem, Algorithm expected) {
  return parse(pem, &expected);
}

tl::expected<SigningKey, std::string> parse_signing_key(std::string_view pem) { return parse(pem, nullptr); }

tl::expected<SigningKey, std::string> load_signing_key(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return tl::make_unexpected(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    text.append(buf, n);
    if (text.size() > 64 * 1024) return tl::make_unexpected(fmt::format("{}: larger than 64 KiB; not a key", path));
  }
  if (std::ferror(f.get())) return tl::make_unexpected(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  auto key = parse(text, nullptr);
  if (!key) return tl::make_unexpected(fmt::format("{}: {}", path, key.error()));
  return key;
}

std::string_view key_type_tag(Algorithm a) { return a == Algorithm::rsa_sha256 ? "rsa" : "ed25519"; }

std::string dns_txt_value(const SigningKey& key) {
  return fmt::format("v=DKIM1; k={}; p={}", key_type_tag(key.algorithm), key.public_key_b64);
}

std::string dns_txt_record(std::string_view domain, std::string_view selector, const SigningKey& key) {
  const std::string value = dns_txt_value(key);
  std::string out = fmt::format("{}._domainkey.{}{} IN TXT", selector, domain, domain.ends_with('.') ? "" : ".");
  // The value is base64 and "v=DKIM1; k=...; p=": no '"' or '\\' to escape.
  for (std::size_t pos = 0; pos < value.size(); pos += 255)
    out += fmt::format(" \"{}\"", std::string_view(value).substr(pos, 255));
  return out;
}

tl::expected<std::string, std::string> generate_private_key_pem(Algorithm algorithm, unsigned rsa_bits) {
  ERR_clear_error();
  const bool rsa = algorithm == Algorithm::rsa_sha256;
  if (rsa && (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits))
    return tl::make_unexpected(fmt::format("--bits {} is outside {}..{}", rsa_bits, kMinRsaBits, kMaxRsaBits));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(rsa_bits)) != 1))
    return tl::make_unexpected(fmt::format("key generation setup failed: {}", openssl_errors()));
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    return tl::make_unexpected(fmt::format("key generation failed: {}", openssl_errors()));
  PkeyPtr pkey(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return tl::make_unexpected(fmt::format("cannot write the key as PEM: {}", openssl_errors()));
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace ringpost::dkim
