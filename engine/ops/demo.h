// `ringpost demo`: the engine with embedded defaults, a local SMTP sink as the route for the
// demo domain, a batch submitted over HTTP like an agent would, and a report of what happened.
#pragma once

#include <cstdint>
#include <string>

#include "engine/config/config.h"

namespace ringpost::engine {

struct DemoOptions {
  uint32_t messages = 10000;
  std::string route;  // "host:port" of an SMTP server to use instead of starting smtp-sink
};

int run_demo(Config cfg, const DemoOptions& opts);

}  // namespace ringpost::engine
