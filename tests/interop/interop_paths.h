// Where the interop servers live: Postfix from its Debian package, Exim and OpenSMTPD from the
// private folder that scripts/fetch-interop-servers.sh fills (they conflict with postfix as
// packages). Paths into the source tree are fixed by CMake at configure time.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ringpost::interop {

// Debian's interpreter with only Debian's python3-* modules.
inline constexpr const char* kPython3 = "/usr/bin/python3";
inline constexpr const char* kPostfixCommand = "/usr/sbin/postfix";
inline constexpr const char* kPostfixMaster = "/usr/lib/postfix/sbin/master";
inline constexpr const char* kOpenSsl = "/usr/bin/openssl";
inline constexpr const char* kUnshare = "/usr/bin/unshare";

// Same default and variable as the fetch script.
inline std::filesystem::path interop_dir() {
  const char* env = std::getenv("RINGPOST_INTEROP_DIR");
  return (env != nullptr && *env != '\0') ? std::filesystem::path(env) : "/opt/ringpost-interop";
}
inline std::filesystem::path exim_binary() { return interop_dir() / "usr/sbin/exim4"; }
inline std::filesystem::path opensmtpd_binary() { return interop_dir() / "usr/sbin/smtpd"; }
// smtpd execs its delivery helpers from the compiled-in /usr/libexec/opensmtpd.
inline std::filesystem::path opensmtpd_libexec() { return interop_dir() / "usr/libexec"; }

// tests/interop in the source tree (smtp_probe.py).
inline std::filesystem::path interop_source_dir() { return RINGPOST_INTEROP_SOURCE_DIR; }
inline std::filesystem::path fetch_script() {
  return std::filesystem::path(RINGPOST_SOURCE_ROOT) / "scripts/fetch-interop-servers.sh";
}
// The line to print when a server's binaries are missing.
inline std::string fetch_hint() {
  return "fetch them with: bash " + fetch_script().string() + " (as root; RINGPOST_INTEROP_DIR=" +
         interop_dir().string() + ")";
}

}  // namespace ringpost::interop
