// Shared by the interop test files: a server whose binaries are missing skips the test on a
// developer's machine (the reason names scripts/fetch-interop-servers.sh) and fails it in CI
// (CI set), where scripts/test.sh runs the fetch first, so a skip would hide a broken fetch.
#pragma once

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace ringpost::interop {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0' && std::string(ci) != "false" && std::string(ci) != "0";
}

}  // namespace ringpost::interop

#define REQUIRE_SERVER(MxClass)                                                      \
  do {                                                                               \
    if (auto why = MxClass::unavailable_reason()) {                                  \
      if (::ringpost::interop::in_ci()) FAIL() << #MxClass " cannot run in CI: " << *why; \
      GTEST_SKIP() << #MxClass " cannot run: " << *why;                             \
    }                                                                                \
  } while (0)
