// Exim 4 (Debian's exim4-daemon-light, from the private interop folder) as an interop MX:
// `exim4 -bdf -C <dir>/exim.conf` in the foreground as our child, listening on ip:port only,
// accepting any local part of the test domains into one maildir. Owned by one test thread.
// As root with -C, the daemon keeps root, but the processes Exim re-executes after reception
// run as Debian-exim ("exim user lost privilege for using -C option" in the panic log is
// expected), so everything they touch belongs to Debian-exim. README.md explains why.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "tests/interop/mx_server.h"

namespace ringpost::interop {

class EximMx : public MxServer {
 public:
  static constexpr const char* kDefaultDomain = "exim.test";
  static constexpr const char* kDefaultIp = "127.0.0.3";
  static constexpr const char* kUser = "Debian-exim";  // EXIM_USER compiled into Debian's build

  static tl::expected<std::unique_ptr<EximMx>, std::string> start(MxOptions options = {});
  // Why this machine cannot run it (not root, binary or user missing: run the fetch script).
  static std::optional<std::string> unavailable_reason();

  // mainlog, rejectlog and paniclog, plus the daemon's stderr.
  std::string log() const override;
  std::filesystem::path config_file() const { return dir() / "exim.conf"; }

 private:
  explicit EximMx(MxOptions options) : MxServer("exim", std::move(options)) {}
  tl::expected<void, std::string> configure();
};

}  // namespace ringpost::interop
