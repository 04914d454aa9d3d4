// Config generation and start-up of the interop Exim.
#include "tests/interop/exim_mx.h"

#include <unistd.h>

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

std::string exim_conf(const MxOptions& o, const fs::path& d, const fs::path& maildir,
                      const std::optional<TlsFiles>& tls) {
  std::string cf = fmt::format(
      R"(# Interop Exim for ringpost tests (tests/interop/exim_mx.cc).
# Re-executions (delivery after reception) must run this same private binary.
exim_path = {exim}
# Set, even empty, so Exim purges the environment without a warning on every start.
keep_environment =
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error +smtp_incomplete_transaction +received_recipients +tls_cipher
primary_hostname = {host}
local_interfaces = {ip}
daemon_smtp_ports = {port}
domainlist local_domains = {domains}
# No DNS or ident look-ups of the client: loopback only, and ident would wait for a timeout.
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
message_size_limit = 50M
# By default a daemon that cannot bind retries 9 times, 30 s apart; fail at once instead.
daemon_startup_retries = 0
acl_smtp_rcpt = acl_check_rcpt
)",
      fmt::arg("exim", exim_binary().string()), fmt::arg("dir", d.string()),
      fmt::arg("host", "mx." + o.domains.front()), fmt::arg("ip", o.ip), fmt::arg("port", o.port),
      fmt::arg("domains", join(o.domains, " : ")));

  // chunking_advertise_hosts and pipelining_advertise_hosts default to "*". With PIPELINING
  // off, smtp_enforce_sync (on by default) rejects a client that sends ahead anyway, and the
  // non-standard PIPECONNECT (early pipelining) must go too.
  cf += fmt::format("chunking_advertise_hosts = {}\n", o.chunking == false ? "" : "*");
  if (o.pipelining == false) {
    cf += "pipelining_advertise_hosts =\npipelining_connect_advertise_hosts =\n";
  } else {
    cf += "pipelining_advertise_hosts = *\n";
  }
  if (tls) {
    cf += fmt::format("tls_advertise_hosts = *\ntls_certificate = {}\ntls_privatekey = {}\n", tls->cert_file.string(),
                      tls->key_file.string());
  } else {
    cf += "tls_advertise_hosts =\n";
  }

  cf += fmt::format(
      R"(
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny   message = relaying denied: this interop MX only takes {domains}

begin routers
test_domains:
  driver = accept
  domains = +local_domains
  transport = maildir_delivery
  no_more

begin transports
# One maildir for every recipient: a directory built from $local_part would be tainted data,
# which Exim 4.94+ refuses as a path. The recipient is kept in the Envelope-to header instead.
# Deliveries run as Debian-exim: see exim_mx.h.
maildir_delivery:
  driver = appendfile
  directory = {maildir}
  maildir_format
  create_directory
  directory_mode = 0700
  mode = 0600
  user = {user}
  group = {user}
  envelope_to_add
  return_path_add
  delivery_date_add

begin retry
*  *  F,1h,1m
)",
      fmt::arg("domains", join(o.domains, ", ")), fmt::arg("maildir", maildir.string()),
      fmt::arg("user", EximMx::kUser));
  return cf;
}

}  // namespace

std::optional<std::string> EximMx::unavailable_reason() {
  if (auto r = require_root()) return r;
  fs::path exim = exim_binary();
  if (::access(exim.c_str(), X_OK) != 0) return fmt::format("{} is missing; {}", exim.string(), fetch_hint());
  if (!lookup_user(kUser)) return fmt::format("no '{}' user; {}", kUser, fetch_hint());
  return std::nullopt;
}

tl::expected<std::unique_ptr<EximMx>, std::string> EximMx::start(MxOptions options) {
  if (auto why = unavailable_reason()) return tl::unexpected(*why);
  auto resolved = resolve(std::move(options), kDefaultDomain, kDefaultIp);
  if (!resolved) return tl::unexpected(resolved.error());
  std::unique_ptr<EximMx> mx(new EximMx(std::move(*resolved)));
  if (auto c = mx->configure(); !c) return tl::unexpected(c.error());
  // -bdf: daemon in the foreground; no -q, so no queue runner: deliveries happen right after
  // reception, as Exim does by default.
  auto up = mx->launch({exim_binary().string(), "-bdf", "-C", mx->config_file().string()});
  if (!up) return tl::unexpected(up.error());
  return mx;
}

tl::expected<void, std::string> EximMx::configure() {
  auto exim = lookup_user(kUser);
  if (!exim) return tl::unexpected(exim.error());
  auto [uid, gid] = *exim;
  const fs::path d = dir();
  for (const char* sub : {"spool", "log"}) {
    std::error_code ec;
    fs::create_directories(d / sub, ec);
    if (ec || ::chown((d / sub).c_str(), uid, gid) != 0) {
      return tl::unexpected(fmt::format("mkdir/chown {}: {}", (d / sub).string(), ec ? ec.message() : "chown failed"));
    }
  }
  if (auto m = make_maildir(uid, gid); !m) return tl::unexpected(m.error());
  std::optional<TlsFiles> tls;
  if (options_.tls) {
    // The reception process reads them after dropping to Debian-exim.
    auto t = install_tls_files(*options_.tls, uid, gid);
    if (!t) return tl::unexpected(t.error());
    tls = *t;
  }
  // Exim refuses a -C file that is not root's or is writable by others; write_file gives 0644.
  return write_file(config_file(), exim_conf(options_, d, maildir(), tls));
}

std::string EximMx::log() const {
  std::string out;
  for (const char* name : {"mainlog", "rejectlog", "paniclog"}) {
    std::string text = read_file(dir() / "log" / name);
    if (!text.empty()) out += fmt::format("--- {} ---\n{}", name, text);
  }
  std::string daemon = process_output();
  if (!daemon.empty()) out += "--- exim stdout/stderr ---\n" + daemon;
  return out;
}

}  // namespace ringpost::interop
