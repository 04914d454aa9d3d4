// Config generation and start-up of the private Postfix instance.
#include "tests/interop/postfix_mx.h"

#include <grp.h>
#include <unistd.h>

#include <chrono>
#include <system_error>

#include <fmt/format.h>

#include "tests/interop/interop_paths.h"

namespace ringpost::interop {
namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// master.cf: only the services this MX uses. chroot is "n" everywhere: a chrooted service would
// need copies of /etc files inside the queue directory. No "smtp unix" client and no "local":
// nothing is ever sent out or delivered to a system user.
std::string master_cf(const MxOptions& o) {
  return fmt::format(
      "# service type  private unpriv  chroot  wakeup  maxproc command\n"
      "{}:{} inet n       -       n       -       -       smtpd\n"
      "cleanup   unix  n       -       n       -       0       cleanup\n"
      "qmgr      unix  n       -       n       300     1       qmgr\n"
      "tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n"
      "rewrite   unix  -       -       n       -       -       trivial-rewrite\n"
      "bounce    unix  -       -       n       -       0       bounce\n"
      "defer     unix  -       -       n       -       0       bounce\n"
      "trace     unix  -       -       n       -       0       bounce\n"
      "verify    unix  -       -       n       -       1       verify\n"
      "flush     unix  n       -       n       1000?   0       flush\n"
      "proxymap  unix  -       -       n       -       -       proxymap\n"
      "showq     unix  n       -       n       -       -       showq\n"
      "error     unix  -       -       n       -       -       error\n"
      "retry     unix  -       -       n       -       -       error\n"
      "discard   unix  -       -       n       -       -       discard\n"
      "virtual   unix  -       n       n       -       -       virtual\n"
      "anvil     unix  -       -       n       -       1       anvil\n"
      "scache    unix  -       -       n       -       1       scache\n"
      "postlog   unix-dgram n  -       n       -       1       postlogd\n",
      o.ip, o.port);
}

std::string main_cf(const MxOptions& o, const fs::path& d, uid_t vuid, gid_t vgid,
                    const std::optional<TlsFiles>& tls) {
  std::string cf = fmt::format(
      R"(# Private Postfix instance for ringpost interop tests (tests/interop/postfix_mx.cc).
compatibility_level = 3.6
config_directory = {dir}/etc
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {host}
mydomain = {domain}
myorigin = $myhostname
mydestination =
# Postfix requires inet_interfaces to be addresses of a local interface and 127.0.0.2 is not
# one (only 127.0.0.1/8 is configured on lo); smtpd is bound to {ip}:{port} in master.cf.
inet_interfaces = loopback-only
inet_protocols = ipv4
proxy_interfaces = {ip}
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
# A real MX does not repair a remote client's header; 127.0.0.1 would count as local.
local_header_rewrite_clients =
alias_maps =
alias_database =
biff = no
# Every local part of the test domains goes to one maildir as uid/gid {vuid}/{vgid}.
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{vuid}
virtual_gid_maps = static:{vgid}
virtual_mailbox_limit = 0
message_size_limit = 52428800
# Nothing leaves this instance: bounces and anything not for the test domains fail here.
default_transport = error:outbound mail disabled in the interop MX
relay_transport = error:outbound mail disabled in the interop MX
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
)",
      fmt::arg("dir", d.string()), fmt::arg("host", "mx." + o.domains.front()),
      fmt::arg("domain", o.domains.front()), fmt::arg("ip", o.ip), fmt::arg("port", o.port),
      fmt::arg("domains", join(o.domains, ", ")), fmt::arg("vuid", vuid), fmt::arg("vgid", vgid));

  std::vector<std::string> discard;
  if (o.chunking == false) discard.push_back("chunking");
  if (o.pipelining == false) discard.push_back("pipelining");
  cf += fmt::format("smtpd_discard_ehlo_keywords = {}\n", join(discard, ", "));
  // Postfix 3.9's default (backported to 3.7.6+, off there): "554 5.5.0 Error: SMTP protocol
  // synchronization" and hang up when a client writes past a command that must end a group
  // (content before DATA's 354, commands after EHLO or STARTTLS). It does not catch MAIL+RCPT
  // written together when PIPELINING was not offered; Exim and OpenSMTPD do.
  cf += "smtpd_forbid_unauth_pipelining = yes\n";

  if (tls) {
    // security_level = may is the current form of smtpd_use_tls = yes: offer STARTTLS, do not
    // require it. The key is read by smtpd as root before it drops privileges.
    cf += fmt::format(
        "smtpd_tls_security_level = may\n"
        "smtpd_tls_cert_file = {}\n"
        "smtpd_tls_key_file = {}\n"
        "smtpd_tls_loglevel = 1\n"
        "smtpd_tls_received_header = yes\n"
        "smtpd_tls_session_cache_database =\n",
        tls->cert_file.string(), tls->key_file.string());
  } else {
    cf += "smtpd_tls_security_level = none\n";
  }
  return cf;
}

}  // namespace

std::optional<std::string> PostfixMx::unavailable_reason() {
  if (auto r = require_root()) return r;
  for (const char* f : {kPostfixCommand, kPostfixMaster}) {
    if (::access(f, X_OK) != 0) return fmt::format("{} is missing: apt-get install postfix", f);
  }
  if (!lookup_user("postfix")) return std::string("no 'postfix' user: the postfix package is not configured");
  if (::getgrnam("postdrop") == nullptr) return std::string("no 'postdrop' group: the postfix package is not configured");
  return std::nullopt;
}

tl::expected<std::unique_ptr<PostfixMx>, std::string> PostfixMx::start(MxOptions options) {
  if (auto why = unavailable_reason()) return tl::unexpected(*why);
  auto resolved = resolve(std::move(options), kDefaultDomain, kDefaultIp);
  if (!resolved) return tl::unexpected(resolved.error());
  std::unique_ptr<PostfixMx> mx(new PostfixMx(std::move(*resolved)));
  if (auto c = mx->configure(); !c) return tl::unexpected(c.error());
  auto up = mx->launch({kPostfixMaster, "-c", mx->config_dir().string(), "-d"});
  if (!up) return tl::unexpected(up.error());
  return mx;
}

tl::expected<void, std::string> PostfixMx::configure() {
  const fs::path d = dir();
  auto postfix = lookup_user("postfix");
  auto nobody = lookup_user("nobody");
  if (!postfix) return tl::unexpected(postfix.error());
  if (!nobody) return tl::unexpected(nobody.error());

  std::error_code ec;
  for (const char* sub : {"etc", "queue", "data"}) {
    fs::create_directories(d / sub, ec);
    if (ec) return tl::unexpected(fmt::format("mkdir {}: {}", (d / sub).string(), ec.message()));
  }
  // data_directory belongs to mail_owner (postfix check warns otherwise); the queue's subdirs
  // are made by `postfix check` with the owners listed in /etc/postfix/postfix-files.
  if (::chown((d / "data").c_str(), postfix->first, postfix->second) != 0) {
    return tl::unexpected(fmt::format("chown {}/data failed", d.string()));
  }
  if (auto m = make_maildir(nobody->first, nobody->second); !m) return tl::unexpected(m.error());

  std::optional<TlsFiles> tls;
  if (options_.tls) {
    auto t = install_tls_files(*options_.tls, 0, 0);
    if (!t) return tl::unexpected(t.error());
    tls = *t;
  }
  if (auto w = write_file(config_dir() / "main.cf", main_cf(options_, d, nobody->first, nobody->second, tls)); !w) {
    return tl::unexpected(w.error());
  }
  if (auto w = write_file(config_dir() / "master.cf", master_cf(options_)); !w) return tl::unexpected(w.error());

  // `postfix check` runs post-install create-missing (queue subdirectories, owners, modes) and
  // the same sanity checks as `postfix start`, so a layout error shows up here, in the maillog.
  auto check = run_to_completion({kPostfixCommand, "-c", config_dir().string(), "check"}, d / "postfix-check.out",
                                 std::chrono::seconds(60));
  if (!check) {
    return tl::unexpected(fmt::format("postfix check failed: {}\n--- maillog ---\n{}", check.error(), log()));
  }
  return {};
}

std::string PostfixMx::start_failure_hint() const {
  // maillog_file is written by postlogd, which master starts; what master says before that
  // (bind failures, master.cf errors) goes to syslog, and this machine runs none.
  return "--- note ---\nPostfix's master logs start-up errors before postlogd runs to syslog (/dev/log) only; "
         "`postfix -c " + config_dir().string() + " check` and the master.cf listen line are the places to look\n";
}

std::string PostfixMx::log() const {
  std::string out = read_file(dir() / "maillog");
  std::string master = process_output();
  if (!master.empty()) out += "--- master stdout/stderr ---\n" + master;
  return out;
}

}  // namespace ringpost::interop
