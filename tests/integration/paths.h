// Absolute paths the integration tests depend on, fixed at configure time by CMake
// (tests/integration/CMakeLists.txt), so the tests run from any working directory.
#pragma once

#include <filesystem>
#include <string>

namespace ringpost::it {

// Debian's interpreter: the python3 first on PATH may be another one without aiosmtpd.
inline constexpr const char* kPython3 = "/usr/bin/python3";

// Empty when the `ringpost` target did not exist at configure time; tests then skip.
inline std::filesystem::path ringpost_binary() { return RINGPOST_IT_SERVER_BINARY; }
// This directory in the source tree (for the python helpers).
inline std::filesystem::path source_dir() { return RINGPOST_IT_SOURCE_DIR; }

}  // namespace ringpost::it
