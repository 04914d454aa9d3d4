// OpenSMTPD 7.4 (Debian's bookworm-backports opensmtpd, from the private interop folder; 6.8 in
// bookworm cannot serve STARTTLS with OpenSSL 3) as an interop MX:
// `smtpd -d -f <dir>/smtpd.conf` in the foreground as our child, inside a private mount
// namespace where <dir>/var is bind-mounted on /var (its queue /var/spool/smtpd, control
// socket /var/run/smtpd.sock and chroot /var/lib/opensmtpd/empty are compiled in, and two
// instances would share them) and the private usr/libexec on /usr/libexec (its delivery helper
// mail.maildir is execed from the compiled-in /usr/libexec/opensmtpd). Any local part of the
// test domains goes to one maildir, delivered as user nobody. Owned by one test thread.
// OpenSMTPD offers neither PIPELINING nor CHUNKING and answers pipelined commands with
// "500 5.5.1 Pipelining not supported": asking for either is an error here.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "tests/interop/mx_server.h"

namespace ringpost::interop {

class OpenSmtpdMx : public MxServer {
 public:
  static constexpr const char* kDefaultDomain = "opensmtpd.test";
  static constexpr const char* kDefaultIp = "127.0.0.4";

  static tl::expected<std::unique_ptr<OpenSmtpdMx>, std::string> start(MxOptions options = {});
  // Why this machine cannot run it (not root, binaries or privsep users missing), or nullopt.
  static std::optional<std::string> unavailable_reason();

  // smtpd's stderr (-d logs there), preceded by any mount error from the namespace set-up.
  std::string log() const override;
  std::filesystem::path config_file() const { return dir() / "smtpd.conf"; }

 private:
  explicit OpenSmtpdMx(MxOptions options) : MxServer("opensmtpd", std::move(options)) {}
  tl::expected<void, std::string> configure();
};

}  // namespace ringpost::interop
