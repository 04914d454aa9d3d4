// Start-up check that this kernel has every io_uring feature the engine relies on, so an old or
// locked-down kernel gets one line naming what is missing instead of a crash or a hang later
// (a multishot accept that fails with -EINVAL would leave the HTTP port never accepting).
// Runs once on the main thread, before any engine thread starts.
#pragma once

#include <string>

namespace ringpost::engine {

// The oldest kernel with everything below: multishot accept arrived in 5.19.
inline constexpr const char* kMinKernel = "5.19";

// Empty when the kernel has every feature; otherwise one line naming the first missing feature
// and the kernel that has it. RINGPOST_KERNEL_PROBE_FAIL=<feature> makes that feature's check
// fail (tests/scripts/kernel_probe.sh simulates an old kernel with it); the feature names are
// the ones the messages print: io_uring, ext_arg, opcode:<NAME>, multishot_accept.
std::string kernel_problem();

}  // namespace ringpost::engine
