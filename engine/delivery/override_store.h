// Operators' per-domain overrides as JSON: parsed from an admin request body, and persisted in
// <spool_dir>/overrides.json so a throttle or a suspension survives a restart. The file is
// replaced atomically (write, fsync, rename, fsync the directory): a crash leaves the old or
// the new set, never half of one. Called on the front thread (admin requests, rare) and at
// start-up; the blocking file I/O is deliberate.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/api/api_error.h"
#include "engine/delivery/live_policy.h"

namespace ringpost::engine {

// {"msgs_per_second": 10 | "300/min", "connections_per_second": ..., "max_connections": 3,
//  "max_msgs_per_connection": ..., "max_recipients_per_message": ..., "idle_timeout": "30s"}
// applied over `base`. An unknown field or a bad value is a 400 naming the field.
tl::expected<DomainOverride, api::ApiError> parse_throttle(std::string_view json, DomainOverride base);

std::string to_json(const std::map<std::string, DomainOverride>& overrides);
tl::expected<std::map<std::string, DomainOverride>, std::string> parse_overrides(std::string_view json,
                                                                                 const std::string& source);

// A missing file is an empty set; anything unreadable is an error naming the file.
tl::expected<std::map<std::string, DomainOverride>, std::string> load_overrides(const std::string& path);
tl::expected<void, std::string> save_overrides(const std::string& path,
                                               const std::map<std::string, DomainOverride>& overrides);

}  // namespace ringpost::engine
