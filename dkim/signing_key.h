// A DKIM private key, read, checked and parsed once when the config is loaded (never per
// message), and the public half in the form DNS publishes it. Immutable after loading; shared
// read-only by every signing thread (an OpenSSL 3 EVP_PKEY may be used for signing from several
// threads at once; each thread keeps its own operation context, dkim/signer.cc). RFC 6376 §3.6.1 (p= for RSA: base64 of the DER SubjectPublicKeyInfo),
// RFC 8463 §4 (p= for Ed25519: base64 of the raw 32-byte public key), RFC 8301 §3.2 (RSA
// signers MUST use at least 1024 bits).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "dkim/sign_entry.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace ringpost::dkim {

inline constexpr unsigned kMinRsaBits = 1024;  // RFC 8301 §3.2
inline constexpr unsigned kMaxRsaBits = 4096;  // a DNS TXT record with more is unwieldy, and receivers cap too

struct SigningKey {
  Algorithm algorithm = Algorithm::rsa_sha256;
  unsigned bits = 0;            // RSA modulus size; 256 for Ed25519
  std::string private_pem;      // as read: PEM, PKCS#8 or traditional (for tools and tests)
  // The parsed key, with its first use (RSA: Montgomery contexts, blinding) already paid by a
  // signature at load time.
  std::shared_ptr<evp_pkey_st> pkey;
  std::string public_key_b64;   // the p= value
};

// Parses PEM text. Errors say what is wrong ("not a PEM private key", "an Ed25519 key, but
// algorithm is rsa-sha256", "RSA key of 512 bits; at least 1024 are required").
tl::expected<SigningKey, std::string> parse_signing_key(std::string_view pem, Algorithm expected);
// The same, taking the algorithm from the key itself.
tl::expected<SigningKey, std::string> parse_signing_key(std::string_view pem);

// Reads and parses a key file. Errors start with the path.
tl::expected<SigningKey, std::string> load_signing_key(const std::string& path);

// k= for the key's algorithm: "rsa" or "ed25519".
std::string_view key_type_tag(Algorithm a);

// The TXT record value: "v=DKIM1; k=ed25519; p=...".
std::string dns_txt_value(const SigningKey& key);

// The record in master-file form (RFC 1035 §5.1), ready to paste into a zone:
//   sel._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...rest"
// A TXT character-string holds at most 255 octets (RFC 1035 §3.3), so longer values (any RSA
// key of 2048 bits) are split into several strings, which receivers concatenate (RFC 6376
// §3.6.2.2).
std::string dns_txt_record(std::string_view domain, std::string_view selector, const SigningKey& key);

// Generates a new private key as PKCS#8 PEM: Ed25519, or RSA with `rsa_bits` (1024..4096).
tl::expected<std::string, std::string> generate_private_key_pem(Algorithm algorithm, unsigned rsa_bits);

}  // namespace ringpost::dkim
