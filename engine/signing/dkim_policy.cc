// See dkim_policy.h.
#include "engine/signing/dkim_policy.h"

#include <fmt/format.h>
#include <zlib.h>

#include "dkim/message_view.h"
#include "engine/security/api_keys.h"

#include <algorithm>

namespace ringpost::engine {

std::shared_ptr<const DkimPolicy> make_dkim_policy(const Config& cfg) {
  return std::make_shared<const DkimPolicy>(DkimPolicy{dkim::KeyStore(cfg.dkim), cfg.require_dkim});
}

std::string describe(const DkimPolicy& policy) {
  return fmt::format("DKIM: {} key{} (require_dkim = {})", policy.keys.entry_count(),
                     policy.keys.entry_count() == 1 ? "" : "s", policy.require);
}

std::string RequestField::path() const {
  return fmt::format("{}{}", batch ? fmt::format("messages[{}].", index) : "", raw ? "raw" : "from");
}

tl::expected<std::optional<uint32_t>, api::ApiError> sign_at_acceptance(dkim::Signer& signer, const DkimPolicy& policy,
                                                     std::string& message, int64_t now_unix_seconds,
                                                     const RequestField& field,
                                                     const std::vector<std::string>& allowed_from) {
  if (policy.keys.empty() && !policy.require) return std::nullopt;  // nothing configured: no parsing at all
  auto view = dkim::split_message(message);
  // Not knowing the From domain of a malformed header section, it might be a configured one:
  // refuse rather than risk sending it unsigned.
  if (!view)
    return tl::make_unexpected(api::ApiError{
        422, "dkim_signing_failed",
        fmt::format("the message's header section cannot be parsed for DKIM signing: {}; nothing was accepted",
                    view.error()),
        field.path()});
  std::optional<std::string> domain = dkim::from_domain(*view);
  std::span<const dkim::SignEntry> entries;
  if (domain) entries = policy.keys.entries_for(*domain);
  std::vector<dkim::SignEntry> permitted;  // only filled when some entry's d= is not allowed
  if (!allowed_from.empty() &&
      std::any_of(entries.begin(), entries.end(), [&](const dkim::SignEntry& e) { return !domain_allowed(allowed_from, e.domain); })) {
    for (const dkim::SignEntry& e : entries)
      if (domain_allowed(allowed_from, e.domain)) permitted.push_back(e);
    entries = permitted;
  }
  if (entries.empty()) {
    if (!policy.require) return std::nullopt;
    return tl::make_unexpected(api::ApiError{
        422, "dkim_required",
        domain ? fmt::format("the From domain '{}' has no DKIM key and server.require_dkim is set; nothing was accepted",
                             *domain)
               : std::string("the message has no From header address to sign for and server.require_dkim is set; "
                             "nothing was accepted"),
        field.path()});
  }
  // One pass over the body: each block is hashed for every canonicalization the entries use
  // and CRC'd for the spool while it is in cache.
  const std::string_view header_section = std::string_view(message).substr(0, message.size() - view->body.size());
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(header_section.data()), static_cast<uInt>(header_section.size()));
  const dkim::BodyHashes body = signer.hash_body(view->body, entries, [&crc](std::string_view block) {
    crc = crc32(crc, reinterpret_cast<const Bytef*>(block.data()), static_cast<uInt>(block.size()));
  });
  auto signature = signer.sign(*view, entries, now_unix_seconds, &body);
  if (!signature)
    return tl::make_unexpected(api::ApiError{
        422, "dkim_signing_failed",
        fmt::format("the message could not be DKIM-signed for '{}': {}; nothing was accepted", *domain,
                    signature.error().message()),
        field.path()});
  const uLong sig_crc = crc32(0L, reinterpret_cast<const Bytef*>(signature->data()), static_cast<uInt>(signature->size()));
  crc = crc32_combine(sig_crc, crc, static_cast<z_off_t>(message.size()));
  message.insert(0, *signature);
  return static_cast<uint32_t>(crc);
}

}  // namespace ringpost::engine
