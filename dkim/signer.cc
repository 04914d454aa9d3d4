// RFC 6376 §5 step by step: body hash (§3.7 step 1, shared by the signatures of one message
// per canonicalization), the selected header fields canonicalized, the signature field itself
// with an empty b= (§3.7 step 2), SHA-256 over that, then the signature: RSASSA-PKCS1-v1_5 of
// the digest (RFC 8017 §8.2), or Ed25519 (PureEdDSA) of the digest (RFC 8463 §3).
#include "dkim/signer.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dkim/header_canon.h"
#include "dkim/signature_field.h"
#include "dkim/signing_key.h"
#include "dkim/text.h"

namespace ringpost::dkim {
namespace {

bool has_from(const MessageView& view) {
  for (std::string_view f : view.fields) {
    std::string_view n = field_name(f);
    if (n.size() == 4 && (n[0] | 0x20) == 'f' && (n[1] | 0x20) == 'r' && (n[2] | 0x20) == 'o' && (n[3] | 0x20) == 'm')
      return true;
  }
  return false;
}

SignError crypto_error(std::string_view step) {
  return SignError{SignErrc::crypto_failed, fmt::format("{}: {}", step, openssl_errors())};
}

}  // namespace

// One thread's operation state for one key. RSA: an EVP_PKEY_CTX set up once for PKCS#1 v1.5
// with SHA-256 and reused for every signature (EVP_PKEY_sign may be called repeatedly after
// one init). Ed25519: a DigestSign context initialized once and copied per signature, since a
// one-shot EVP_DigestSign finishes its context and a copy costs less than a new init.
struct Signer::KeyContext {
  std::shared_ptr<const SigningKey> key;  // keeps the key, hence the map's pointer, valid
  EVP_PKEY_CTX* rsa = nullptr;
  EVP_MD_CTX* ed_template = nullptr;
  EVP_MD_CTX* ed_work = nullptr;
  ~KeyContext() {
    EVP_PKEY_CTX_free(rsa);
    EVP_MD_CTX_free(ed_template);
    EVP_MD_CTX_free(ed_work);
  }
};

Signer::Signer() = default;
Signer::~Signer() = default;

Signer::KeyContext* Signer::context_for(const std::shared_ptr<const SigningKey>& key) {
  if (auto it = contexts_.find(key.get()); it != contexts_.end()) return it->second.get();
  // Bounded: keys only change on reload; a long-lived Signer that saw many simply starts over.
  if (contexts_.size() >= 256) contexts_.clear();
  auto c = std::make_unique<KeyContext>();
  c->key = key;
  EVP_PKEY* pkey = key->pkey.get();
  if (!pkey) return nullptr;
  if (key->algorithm == Algorithm::rsa_sha256) {
    c->rsa = EVP_PKEY_CTX_new(pkey, nullptr);
    if (!c->rsa || EVP_PKEY_sign_init(c->rsa) != 1 || EVP_PKEY_CTX_set_rsa_padding(c->rsa, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(c->rsa, EVP_sha256()) != 1)
      return nullptr;
  } else {
    c->ed_template = EVP_MD_CTX_new();
    c->ed_work = EVP_MD_CTX_new();
    if (!c->ed_template || !c->ed_work || EVP_DigestSignInit(c->ed_template, nullptr, nullptr, nullptr, pkey) != 1)
      return nullptr;
  }
  return contexts_.emplace(key.get(), std::move(c)).first->second.get();
}

BodyHashes Signer::hash_body(std::string_view body, std::span<const SignEntry> entries,
                             const std::function<void(std::string_view)>& also) {
  bool simple = false, relaxed = false;
  for (const SignEntry& e : entries) (e.canon.body == Canon::relaxed ? relaxed : simple) = true;
  return body_hasher_.hash(body, simple, relaxed, also);
}

tl::expected<std::string, SignError> Signer::sign(std::string_view message, std::span<const SignEntry> entries,
                                                  int64_t now_unix_seconds) {
  auto view = split_message(message);
  if (!view) return tl::make_unexpected(SignError{SignErrc::malformed_message, view.error()});
  return sign(*view, entries, now_unix_seconds);
}

tl::expected<std::string, SignError> Signer::sign(const MessageView& view, std::span<const SignEntry> entries,
                                                  int64_t now_unix_seconds, const BodyHashes* body) {
  if (entries.empty()) return tl::make_unexpected(SignError{SignErrc::no_entries, {}});
  if (!has_from(view)) return tl::make_unexpected(SignError{SignErrc::no_from_field, {}});
  BodyHashes computed;
  bool complete = body != nullptr;
  for (const SignEntry& e : entries) complete = complete && body->of(e.canon.body).has_value();
  if (!complete) {
    computed = hash_body(view.body, entries);
    body = &computed;
  }
  std::string out;
  out.reserve(entries.size() * 600);
  for (const SignEntry& e : entries) {
    auto field = sign_one(view, e, *body->of(e.canon.body), now_unix_seconds);
    if (!field) return tl::make_unexpected(field.error());
    out += *field;
  }
  return out;
}

tl::expected<std::string, SignError> Signer::sign_one(const MessageView& view, const SignEntry& e,
                                                      const Digest& body_hash, int64_t now_unix_seconds) {
  const HeaderSelection sel = select_headers(view, e);
  const std::string bh = base64(body_hash.data(), body_hash.size());
  std::string field = signature_prefix(SignatureTags{e.key->algorithm, e.canon, e.domain, e.selector,
                                                     now_unix_seconds, bh, sel.names});
  header_data_.clear();
  for (std::string_view f : sel.fields) append_canonical_field(header_data_, f, e.canon.header);
  // The signature field last, canonicalized the same way, without its final CRLF (§3.7).
  append_canonical_field(header_data_, field, e.canon.header);
  header_data_.resize(header_data_.size() - 2);
  header_hash_.reset();
  header_hash_.update(header_data_);
  const Digest digest = header_hash_.final();

  KeyContext* ctx = context_for(e.key);
  if (!ctx) return tl::make_unexpected(crypto_error("setting up the key"));
  unsigned char sig[1024];  // RSA-4096 (the largest key accepted) is 512 bytes; Ed25519 64
  std::size_t len = sizeof sig;
  if (ctx->rsa) {
    if (EVP_PKEY_sign(ctx->rsa, sig, &len, digest.data(), digest.size()) != 1)
      return tl::make_unexpected(crypto_error("RSA signature"));
  } else {
    if (EVP_MD_CTX_copy_ex(ctx->ed_work, ctx->ed_template) != 1 ||
        EVP_DigestSign(ctx->ed_work, sig, &len, digest.data(), digest.size()) != 1)
      return tl::make_unexpected(crypto_error("Ed25519 signature"));
  }
  append_b(field, base64(sig, len));
  return field;
}

std::string library_version() { return OpenSSL_version(OPENSSL_VERSION); }

tl::expected<std::string, SignError> sign(std::string_view message, std::span<const SignEntry> entries,
                                          int64_t now_unix_seconds) {
  Signer signer;
  return signer.sign(message, entries, now_unix_seconds);
}

}  // namespace ringpost::dkim
