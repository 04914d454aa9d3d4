// DKIM at acceptance: which keys sign a message (by its From header's domain), whether an
// unsigned message may be accepted, and the signing step the HTTP front runs on each rendered
// message before it is spooled. A DkimPolicy is immutable; the front holds one through a
// shared_ptr and a SIGHUP reload replaces it whole (Front::replace_dkim). docs/dkim.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "dkim/key_store.h"
#include "dkim/signer.h"
#include "engine/api/api_error.h"
#include "engine/config/config.h"

namespace ringpost::engine {

struct DkimPolicy {
  dkim::KeyStore keys;
  bool require = false;  // server.require_dkim
};

std::shared_ptr<const DkimPolicy> make_dkim_policy(const Config& cfg);

// One line for the log: "DKIM: 3 keys (require_dkim = false)".
std::string describe(const DkimPolicy& policy);

// The request field an error blames: "from" or "raw", "messages[3].from" in a batch. Built
// only when there is an error.
struct RequestField {
  bool batch = false;
  std::size_t index = 0;
  bool raw = false;
  std::string path() const;
};

// Prepends the DKIM-Signature fields for `message`'s From domain (the From header field, not
// the envelope sender: DMARC aligns d= with the From header, RFC 7489 §3.1.1). A message whose
// From domain has no entry is left unsigned, or refused (422 dkim_required) when the policy
// requires signing; a configured domain whose message cannot be signed is refused (422
// dkim_signing_failed) rather than sent unsigned. Only entries whose d= is within
// `allowed_from` (the submitting key's; empty = any) sign: a key never gets another tenant's
// signature, even if a From domain slipped past the submit check. Runs on a signing worker
// (SigningPool) with that worker's own Signer.
// When it signs, it returns the zlib crc32 of the signed message, computed in the pass that
// hashes the body (the spool record uses it instead of reading the body again); nothing when
// the message is left as it was.
tl::expected<std::optional<uint32_t>, api::ApiError> sign_at_acceptance(dkim::Signer& signer, const DkimPolicy& policy,
                                                     std::string& message, int64_t now_unix_seconds,
                                                     const RequestField& field,
                                                     const std::vector<std::string>& allowed_from = {});

}  // namespace ringpost::engine
