// Config generation and start-up of the interop OpenSMTPD.
#include "tests/interop/opensmtpd_mx.h"

#include <unistd.h>

#include <system_error>

#include <fmt/format.h>

#include "tests/interop/interop_paths.h"

namespace ringpost::interop {
namespace {

namespace fs = std::filesystem;

// The namespace set-up, run by /bin/sh inside `unshare --mount`: bind the private trees, then
// exec smtpd so it keeps the pid (and process group) we spawned. /usr/libexec is bound before /var, so an
// interop folder under /var would still resolve (start() rejects that case anyway).
constexpr const char* kNamespaceScript =
    "set -e\n"
    "mount --bind \"$1\" /usr/libexec\n"
    "mount --bind \"$2\" /var\n"
    "exec \"$3\" -d -f \"$4\"\n";

bool is_under(const fs::path& p, const fs::path& dir) {
  auto rel = fs::weakly_canonical(p).lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

std::string smtpd_conf(const MxOptions& o, const fs::path& maildir, const std::optional<TlsFiles>& tls) {
  std::string host = "mx." + o.domains.front();
  std::string domains;
  for (const auto& d : o.domains) domains += fmt::format("{}\"{}\"", domains.empty() ? "" : ", ", d);
  std::string cf = "# Interop OpenSMTPD for ringpost tests (tests/interop/opensmtpd_mx.cc).\n";
  if (tls) {
    cf += fmt::format("pki {0} cert \"{1}\"\npki {0} key \"{2}\"\n", host, tls->cert_file.string(),
                      tls->key_file.string());
  }
  // virtual <vusers> maps every recipient ("@" = any) to one system user, so no local part needs
  // a passwd entry; the mail is then delivered as nobody.
  cf += fmt::format(
      "table domains {{ {domains} }}\n"
      "table vusers {{ \"@\" = \"nobody\" }}\n"
      "listen on {ip} port {port} hostname {host}{tls}\n"
      "action \"deliver\" maildir \"{maildir}\" virtual <vusers>\n"
      "match from any for domain <domains> action \"deliver\"\n",
      fmt::arg("domains", domains), fmt::arg("ip", o.ip), fmt::arg("port", o.port), fmt::arg("host", host),
      fmt::arg("tls", tls ? fmt::format(" tls pki {}", host) : ""), fmt::arg("maildir", maildir.string()));
  return cf;
}

}  // namespace

std::optional<std::string> OpenSmtpdMx::unavailable_reason() {
  if (auto r = require_root()) return r;
  for (const fs::path& f : {opensmtpd_binary(), opensmtpd_libexec() / "opensmtpd/mail.maildir"}) {
    if (::access(f.c_str(), X_OK) != 0) return fmt::format("{} is missing; {}", f.string(), fetch_hint());
  }
  for (const char* user : {"opensmtpd", "opensmtpq"}) {
    if (!lookup_user(user)) return fmt::format("no '{}' user (smtpd's privsep users); {}", user, fetch_hint());
  }
  if (::access(kUnshare, X_OK) != 0) return fmt::format("{} is missing (util-linux)", kUnshare);
  return std::nullopt;
}

tl::expected<std::unique_ptr<OpenSmtpdMx>, std::string> OpenSmtpdMx::start(MxOptions options) {
  if (auto why = unavailable_reason()) return tl::unexpected(*why);
  if (options.chunking == true) return tl::unexpected(std::string("OpenSMTPD cannot offer CHUNKING"));
  if (options.pipelining == true) return tl::unexpected(std::string("OpenSMTPD cannot offer PIPELINING"));
  if (is_under(interop_dir(), "/var")) {
    return tl::unexpected(fmt::format("RINGPOST_INTEROP_DIR {} is under /var, which OpenSmtpdMx hides behind "
                                      "its private /var; use another folder",
                                      interop_dir().string()));
  }
  auto resolved = resolve(std::move(options), kDefaultDomain, kDefaultIp);
  if (!resolved) return tl::unexpected(resolved.error());
  std::unique_ptr<OpenSmtpdMx> mx(new OpenSmtpdMx(std::move(*resolved)));
  if (is_under(mx->dir(), "/var")) {
    return tl::unexpected(fmt::format("test directory {} is under /var (TMPDIR?)", mx->dir().string()));
  }
  if (auto c = mx->configure(); !c) return tl::unexpected(c.error());
  auto up = mx->launch({kUnshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", kNamespaceScript,
                        "opensmtpd-ns", opensmtpd_libexec().string(), (mx->dir() / "var").string(),
                        opensmtpd_binary().string(), mx->config_file().string()});
  if (!up) return tl::unexpected(up.error());
  return mx;
}

tl::expected<void, std::string> OpenSmtpdMx::configure() {
  const fs::path d = dir();
  // smtpd checks these itself: the spool root must be root's with mode 0711 (it creates the
  // queue directories below it, owned by opensmtpq), the chroot must exist and be root's.
  const std::pair<fs::path, fs::perms> dirs[] = {
      {d / "var", fs::perms(0755)},
      {d / "var/spool", fs::perms(0755)},
      {d / "var/spool/smtpd", fs::perms(0711)},
      {d / "var/lib/opensmtpd/empty", fs::perms(0755)},
      {d / "var/run", fs::perms(0755)},
  };
  for (const auto& [p, mode] : dirs) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (!ec) fs::permissions(p, mode, ec);
    if (ec) return tl::unexpected(fmt::format("mkdir {}: {}", p.string(), ec.message()));
  }
  auto nobody = lookup_user("nobody");
  if (!nobody) return tl::unexpected(nobody.error());
  if (auto m = make_maildir(nobody->first, nobody->second); !m) return tl::unexpected(m.error());
  std::optional<TlsFiles> tls;
  if (options_.tls) {
    // Loaded by the privileged parent; smtpd wants the key private to root.
    auto t = install_tls_files(*options_.tls, 0, 0);
    if (!t) return tl::unexpected(t.error());
    tls = *t;
  }
  return write_file(config_file(), smtpd_conf(options_, maildir(), tls));
}

std::string OpenSmtpdMx::log() const { return process_output(); }

}  // namespace ringpost::interop
