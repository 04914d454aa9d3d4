// What a ring's owner thread spends: time between waits (busy) and SQEs handed to the kernel.
// Written by the thread that owns the Ring, read by the front for /metrics (docs/metrics.md).
// Busy time is counted directly, not derived as elapsed - idle, so the counter never goes
// backwards while a thread sits in a long wait.
#pragma once

#include <time.h>

#include <cstdint>

#include "engine/ops/metrics/solo_counter.h"

namespace ringpost::engine {

struct RingStats {
  SoloCounter busy_ns;  // from each wake-up to the next wait
  SoloCounter sqes;     // submission queue entries submitted
};

// CLOCK_MONOTONIC through the vDSO: a few tens of ns, no syscall, immune to clock steps.
inline int64_t steady_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace ringpost::engine
