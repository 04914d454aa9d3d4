// Tenant isolation at submit (docs/security.md "What a key may do"): a key may only send as the
// domains of its allowed_from, in the envelope and in the header section alike, since
// receivers (DMARC) and DKIM signing judge the From header, not the envelope. Pure; front thread.
#pragma once

#include <cstddef>
#include <optional>

#include "engine/api/api_error.h"
#include "engine/api/submit_request.h"
#include "engine/config/config.h"

namespace ringpost::engine {

// 403 sender_not_allowed naming the first field outside `key`'s allowed_from: the envelope
// "from", then the From header's domains ("from" for JSON, "raw" naming From: for raw), then
// Sender. nullopt when all are allowed. `batch`/`index` build "messages[i]." paths.
std::optional<api::ApiError> sender_refusal(const ApiKey& key, const api::SubmitMessage& m, bool batch, std::size_t index);

}  // namespace ringpost::engine
