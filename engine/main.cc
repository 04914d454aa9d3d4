// ringpost's command line: `serve` runs a node, `demo` shows a batch going through a local sink,
// `dkim keygen` makes a DKIM key and prints its DNS record; `ctl` controls a running node
// (engine/ops/ctl) and `check-config` checks a config file before a restart. `sink` and `bench`,
// the benchmark tools of bench/sink and bench/load, register themselves
// (engine/ops/subcommand_registry.h): nothing here includes bench code.
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/config/config.h"
#include "engine/security/api_keys.h"
#include "engine/ops/check_config.h"
#include "engine/ops/cli_help.h"
#include "engine/ops/ctl/ctl_command.h"
#include "engine/ops/demo.h"
#include "engine/ops/subcommand_registry.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/kernel_probe.h"
#include "engine/signing/dkim_keygen.h"

namespace {

ringpost::engine::Config load_or_exit(const std::string& path) {
  if (path.empty()) return ringpost::engine::Config{};
  auto cfg = ringpost::engine::load_config_file(path);
  if (!cfg) {
    fmt::print(stderr, "config error: {}\n", cfg.error());
    std::exit(2);
  }
  return *cfg;
}

// Every HTTP client and SMTP connection is a file descriptor, and the default soft limit (1024)
// would refuse the 1025th. The hard limit is the operator's (systemd LimitNOFILE); take all of it.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur != lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("RLIMIT_NOFILE: cannot raise {} to {}: {}", before, lim.rlim_max, std::strerror(errno));
      return;
    }
  }
  spdlog::info("RLIMIT_NOFILE: {} open files (was {})", lim.rlim_cur, before);
}

// `log_level`: --log-level, which wins over [log] level (also after a SIGHUP reload); empty: the file's.
int serve(const std::string& config_path, const std::string& log_level) {
  // Block the stop signals in every thread (the engine's threads inherit this mask) and take
  // them synchronously here, so no thread is interrupted mid-syscall.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // reopen the delivery log (logrotate's postrotate)
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ringpost::engine::Engine engine(load_or_exit(config_path));
  spdlog::set_level(spdlog::level::from_str(log_level.empty() ? engine.config().log.level : log_level));
  raise_fd_limit();  // after the level is set: its line is info
  if (auto r = engine.start(); !r) {
    fmt::print(stderr, "ringpost: {}\n", r.error());
    return 1;
  }
  fmt::print("ringpost listening on 127.0.0.1:{}\n", engine.http_port());
  std::fflush(stdout);
  int sig = 0;
  // SIGHUP reloads the DKIM keys (docs/dkim.md); a config that no longer loads keeps the
  // keys in use, so a typo cannot turn signing off.
  while (sigwait(&set, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
    if (sig == SIGUSR1) {
      engine.reopen_logs();
      continue;
    }
    if (config_path.empty()) {
      spdlog::warn("SIGHUP: no --config file; nothing to reload");
      continue;
    }
    auto fresh = ringpost::engine::load_config_file(config_path);
    if (!fresh) spdlog::error("SIGHUP: config error: {}; keeping the current config (limits, rules, DKIM keys)", fresh.error());
    else engine.reload(*fresh);
    if (fresh && log_level.empty()) spdlog::set_level(spdlog::level::from_str(fresh->log.level));
  }
  spdlog::info("signal {}: draining (at most {} ms), then stopping", sig, engine.config().drain_timeout.count());
  engine.stop();
  spdlog::info("drained; spool synced");
  // Everything that must outlive us is on disk now. Running the destructors would free every
  // queued message's envelope, status and map node one by one (profiled: hash-map clears and
  // glibc free/malloc_consolidate, all of the CPU after the drain): 71 s at 1M queued on a
  // busy 2-core host, 48 s at 10M in bench/README.md, for memory the kernel reclaims at once.
  std::fflush(stdout);
  spdlog::shutdown();
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringpost: outbound email delivery engine"};
  app.require_subcommand(1);
  std::string config_path;
  auto* serve_cmd = app.add_subcommand("serve", "run the server (embedded defaults without --config)");
  serve_cmd->add_option("--config", config_path, "TOML config file")->check(CLI::ExistingFile);
  std::string log_level;
  serve_cmd->add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off (overrides [log] level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  auto* demo_cmd = app.add_subcommand("demo", "deliver a batch to a local SMTP sink and report");
  ringpost::engine::DemoOptions demo;
  demo_cmd->add_option("--messages", demo.messages, "how many messages to submit")->check(CLI::Range(1, 1000000));
  demo_cmd->add_option("--config", config_path, "TOML config file to start from")->check(CLI::ExistingFile);
  demo_cmd->add_option("--route", demo.route, "host:port of an SMTP server to deliver to instead of a new smtp-sink");
  auto* dkim_cmd = app.add_subcommand("dkim", "DKIM tools");
  dkim_cmd->require_subcommand(1);
  auto* keygen_cmd = dkim_cmd->add_subcommand("keygen", "make a DKIM key; print the DNS TXT record to publish");
  ringpost::engine::DkimKeygenOptions keygen;
  keygen_cmd->add_option("--domain", keygen.domain, "signing domain (d=)")->required();
  keygen_cmd->add_option("--selector", keygen.selector, "selector (s=)")->required();
  keygen_cmd->add_option("--algorithm", keygen.algorithm, "ed25519 or rsa")->capture_default_str();
  auto* bits_opt = keygen_cmd->add_option("--bits", keygen.bits, "RSA modulus size")->capture_default_str();
  keygen_cmd->add_option("--out", keygen.out_dir, "directory for the key file")->capture_default_str();
  struct External {
    CLI::App* cmd;
    std::function<int()> run;
    bool runs_a_ring;
  };
  std::vector<External> externals;
  for (const auto& c : ringpost::engine::registered_commands()) {
    External e{nullptr, {}, c.runs_a_ring};
    e.cmd = c.add(app, e.run);
    externals.push_back(std::move(e));
  }
  auto* key_cmd = app.add_subcommand("key", "API key tools");
  key_cmd->require_subcommand(1);
  auto* key_new_cmd = key_cmd->add_subcommand("new", "make an API key: print the token (once) and its [[keys]] entry");
  std::string key_name;
  std::string key_role = "submit";
  key_new_cmd->add_option("name", key_name, "a name for the key, unique in the config")->required();
  key_new_cmd->add_option("--role", key_role, "submit or admin")->check(CLI::IsMember({"submit", "admin"}))->capture_default_str();
  std::string check_path;
  auto* check_cmd = app.add_subcommand("check-config", "load a config file and report OK or the error (file, line, key)");
  check_cmd->add_option("file", check_path, "TOML config file")->required();
  ringpost::ctl::CtlOptions ctl_opts;
  auto* ctl_cmd = ringpost::ctl::add_ctl_command(app, ctl_opts);
  ringpost::engine::describe_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError that exits 0; every real usage error exits 2, as scripts expect.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*check_cmd) return ringpost::engine::run_check_config(check_path);
  if (*ctl_cmd) return ringpost::ctl::run_ctl(ctl_opts);

  if (*key_new_cmd) return ringpost::engine::print_new_api_key(key_name, key_role);
  // Everything that runs a ring checks the kernel first: one line and exit 1 on an old one,
  // never a crash or an HTTP port that silently never accepts.
  const External* external = nullptr;
  for (const External& e : externals)
    if (*e.cmd) external = &e;
  if (*serve_cmd || *demo_cmd || (external && external->runs_a_ring)) {
    if (const std::string problem = ringpost::engine::kernel_problem(); !problem.empty()) {
      fmt::print(stderr, "{}\n", problem);
      return 1;
    }
  }
  if (external) return external->run();

  if (*serve_cmd) return serve(config_path, log_level);
  if (*keygen_cmd) {
    keygen.bits_given = bits_opt->count() > 0;
    return ringpost::engine::run_dkim_keygen(keygen);
  }
  std::signal(SIGPIPE, SIG_IGN);
  return ringpost::engine::run_demo(load_or_exit(config_path), demo);
}
