// The body hash (bh=, RFC 6376 §3.7 step 1) over the body canonicalizations of RFC 6376 §3.4.3
// (simple) and §3.4.4 (relaxed), computed once per message for each canonicalization its
// signatures use, however many signatures there are. Pure (no I/O, no clock); a BodyHasher is
// used by one thread at a time.
//
// One pass: the body is read in cache-sized blocks, and each block feeds both hashes and the
// caller's `also` (the spool record's CRC) while it is in cache, instead of one full pass per
// consumer. Neither canonicalization copies the body: simple hashes it in place up to its
// trailing empty lines; relaxed hashes the runs between the places it changes (a tab, two or
// more WSP, WSP before a CRLF), which a base64 or quoted-printable body has none of.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "dkim/sha256.h"
#include "dkim/sign_entry.h"

namespace ringpost::dkim {

struct BodyHashes {
  std::optional<Digest> simple;
  std::optional<Digest> relaxed;
  const std::optional<Digest>& of(Canon c) const { return c == Canon::relaxed ? relaxed : simple; }
};

// Bytes per block: well inside L2, so a block read by the first consumer is still there for
// the others.
inline constexpr std::size_t kBodyBlock = 32 * 1024;

class BodyHasher {
 public:
  // `body` as it will be sent. A body that does not end in CRLF is hashed as if it did: the
  // DATA writer adds one before the final "." (RFC 5321 §4.1.1.4), and both canonicalizations
  // end a non-empty body with CRLF anyway. `also` is called with consecutive blocks that
  // together are exactly `body`.
  BodyHashes hash(std::string_view body, bool simple, bool relaxed,
                  const std::function<void(std::string_view)>& also = {});

 private:
  Sha256 simple_;
  Sha256 relaxed_;
};

}  // namespace ringpost::dkim
