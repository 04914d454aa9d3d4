// What one DKIM signature is made with: signing domain, selector, key, canonicalization and the
// header fields it covers (RFC 6376 §3.5 tags d=, s=, a=, c=, h=). Plain data, built once from
// the config and then shared read-only; no thread owns it. Invariant: `key` is loaded and
// checked (load_signing_key), `headers` contains "From"
// (RFC 6376 §5.4: the From field MUST be signed) and every name is a plain field name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::dkim {

// a= (RFC 6376 §3.3, RFC 8463 §3).
enum class Algorithm : uint8_t { rsa_sha256, ed25519_sha256 };

// c= halves (RFC 6376 §3.4).
enum class Canon : uint8_t { simple, relaxed };

struct Canonicalization {
  Canon header = Canon::relaxed;
  Canon body = Canon::relaxed;
  friend bool operator==(const Canonicalization&, const Canonicalization&) = default;
};

struct SigningKey;  // signing_key.h

struct SignEntry {
  std::string domain;    // d=, lower case, no trailing dot
  std::string selector;  // s=
  std::shared_ptr<const SigningKey> key;  // its algorithm is a=
  Canonicalization canon;
  // h= candidates: every instance present in the message is signed, bottom-up (RFC 6376 §5.4.2).
  std::vector<std::string> headers;
  // Listed in h= once more than they occur, so a field added in transit breaks the signature
  // (RFC 6376 §8.15, "over-signing"). Only names that are also in `headers` take effect.
  std::vector<std::string> oversign;
  // Also sign for From domains below `domain` (a.b.example.test under example.test), with
  // d=`domain`: DMARC relaxed alignment (RFC 7489 §3.1.1) accepts that.
  bool subdomains = false;
  // Where the entry was configured ("ringpost.toml:12"), for logs and errors.
  std::string origin;
};

// "rsa-sha256" | "ed25519-sha256", the a= spelling.
tl::expected<Algorithm, std::string> parse_algorithm(std::string_view text);
std::string_view to_string(Algorithm a);

// "relaxed/relaxed", "simple/relaxed", ...; one word means header/simple as in c= (RFC 6376
// §3.5: "If only one algorithm is named, that algorithm is used for the header and 'simple'
// is used for the body").
tl::expected<Canonicalization, std::string> parse_canonicalization(std::string_view text);
std::string to_string(Canonicalization c);

// A header name usable in h=: RFC 5322 ftext restricted to letters, digits, '-' and '_' (what
// real field names use), so a configured name can never carry ':' or ';' into the h= tag.
bool is_signable_header_name(std::string_view name);

// A domain or selector as DKIM puts it in DNS: dot-separated labels of 1..63 letters, digits,
// '-' or '_', at most 253 octets, no trailing dot.
bool is_dns_name(std::string_view name);

// The h= list when the config names none: RFC 6376 §5.4.1's recommendations plus the fields
// bulk senders are asked to sign (RFC 8058 §4: List-Unsubscribe and List-Unsubscribe-Post
// MUST be covered; Feedback-ID for Gmail's feedback loop).
const std::vector<std::string>& default_signed_headers();
// Over-signed by default: the fields a reader sees and a forger would add a second copy of.
const std::vector<std::string>& default_oversigned_headers();

}  // namespace ringpost::dkim
