// A private, full Postfix instance (master, smtpd, cleanup, qmgr, virtual) as an interop MX:
// own config_directory, queue_directory and data_directory under a mkdtemp directory, smtpd on
// ip:port only, mail for the test domains delivered by virtual(8) into one maildir. The system
// instance (/etc/postfix) is never read, started or touched. Owned by one test thread.
// See tests/interop/README.md for why each main.cf setting is there.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "tests/interop/mx_server.h"

namespace ringpost::interop {

class PostfixMx : public MxServer {
 public:
  static constexpr const char* kDefaultDomain = "postfix.test";
  static constexpr const char* kDefaultIp = "127.0.0.2";

  // Writes the config, runs `postfix -c DIR check` (creates the queue layout with Postfix's own
  // owners and modes), starts `master -d` in the foreground as our child, and waits until smtpd's
  // port is in LISTEN. The error carries the maillog.
  static tl::expected<std::unique_ptr<PostfixMx>, std::string> start(MxOptions options = {});
  // Why this machine cannot run it (not root, postfix not installed), or nullopt.
  static std::optional<std::string> unavailable_reason();

  // maillog_file (master, smtpd, qmgr, virtual) plus master's own output.
  std::string log() const override;
  std::filesystem::path config_dir() const { return dir() / "etc"; }

 private:
  explicit PostfixMx(MxOptions options) : MxServer("postfix", std::move(options)) {}
  tl::expected<void, std::string> configure();
  std::string start_failure_hint() const override;
};

}  // namespace ringpost::interop
