// See sender_policy.h.
#include "engine/security/sender_policy.h"

#include <fmt/format.h>

#include "engine/security/api_keys.h"
#include "queue/message.h"

namespace ringpost::engine {

std::optional<api::ApiError> sender_refusal(const ApiKey& key, const api::SubmitMessage& m, bool batch, std::size_t index) {
  if (key.allowed_from.empty()) return std::nullopt;
  const std::string prefix = batch ? fmt::format("messages[{}].", index) : std::string();
  const auto refuse = [&](std::string what, std::string_view domain, std::string field) {
    return api::ApiError{403, "sender_not_allowed",
                         fmt::format("key '{}' may not send as {} (domain '{}'); its allowed_from does not cover that domain",
                                     key.name, what, domain),
                         prefix + field};
  };
  const std::string envelope_domain = queue::domain_of(m.from);
  if (!sender_allowed(key, envelope_domain)) return refuse(fmt::format("'{}'", m.from), envelope_domain, "from");
  const std::string content_field = m.raw ? "raw" : "from";
  for (const std::string& d : m.header_from_domains)
    if (!sender_allowed(key, d)) return refuse("the From header's address", d, content_field);
  if (!m.header_sender_domain.empty() && !sender_allowed(key, m.header_sender_domain))
    return refuse("the Sender header's address", m.header_sender_domain, content_field);
  return std::nullopt;
}

}  // namespace ringpost::engine
