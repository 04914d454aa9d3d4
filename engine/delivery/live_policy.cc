// See live_policy.h.
#include "engine/delivery/live_policy.h"

#include <algorithm>

namespace ringpost::engine {

bool DomainOverride::empty() const {
  return !msgs_per_second && !connections_per_second && !max_connections && !max_msgs_per_connection &&
         !max_recipients_per_message && !idle_timeout && suspended_until_ms == 0 && bounce_created_before_ms == 0;
}

DeliveryPolicy LivePolicy::effective(const std::string& domain) const {
  DeliveryPolicy p = config->policy_for(domain);
  auto it = overrides.find(domain);
  if (it == overrides.end()) return p;
  const DomainOverride& o = it->second;
  if (o.msgs_per_second) p.msgs_per_second = o.msgs_per_second;
  if (o.connections_per_second) p.connections_per_second = o.connections_per_second;
  if (o.max_connections) p.max_connections = *o.max_connections;
  if (o.max_msgs_per_connection) p.max_msgs_per_connection = *o.max_msgs_per_connection;
  if (o.max_recipients_per_message) p.max_recipients_per_message = o.max_recipients_per_message;
  if (o.idle_timeout) p.idle_timeout = *o.idle_timeout;
  return p;
}

DeliveryPolicy strictest(DeliveryPolicy a, const DeliveryPolicy& b) {
  auto lower = [](std::optional<double>& x, const std::optional<double>& y) {
    if (y && (!x || *y < *x)) x = y;
  };
  a.max_connections = std::min(a.max_connections, b.max_connections);
  a.max_msgs_per_connection = std::min(a.max_msgs_per_connection, b.max_msgs_per_connection);
  a.initial_connections = std::min(a.initial_connections, b.initial_connections);
  a.idle_timeout = std::min(a.idle_timeout, b.idle_timeout);
  lower(a.msgs_per_second, b.msgs_per_second);
  lower(a.connections_per_second, b.connections_per_second);
  return a;
}

std::optional<uint32_t> LivePolicy::max_recipients_per_message(const std::string& domain) const {
  auto it = overrides.find(domain);
  if (it != overrides.end() && it->second.max_recipients_per_message) return it->second.max_recipients_per_message;
  return config->policy_for(domain).max_recipients_per_message;
}

int64_t LivePolicy::suspended_until_ms(const std::string& domain) const {
  auto it = overrides.find(domain);
  return it == overrides.end() ? 0 : it->second.suspended_until_ms;
}

}  // namespace ringpost::engine
