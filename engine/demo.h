// `ringpost demo`: the engine with embedded defaults, a local SMTP sink as the route for the
// demo domain, a batch submitted over HTTP like an agent would, and a report of what happened.
#pragma once

#include <cstdint>

#include "engine/config.h"

namespace ringpost::engine {

struct DemoOptions {
  uint32_t messages = 10000;
};

int run_demo(Config cfg, const DemoOptions& opts);

}  // namespace ringpost::engine
