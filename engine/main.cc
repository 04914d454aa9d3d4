// ringpost's command line: `serve` runs a node, `demo` shows a batch going through a local sink,
// `dkim keygen` makes a DKIM key and prints its DNS record; `sink` and `bench` are the benchmark
// tools of bench/sink and bench/load.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench/load/load_cli.h"
#include "bench/sink/sink_cli.h"
#include "engine/config.h"
#include "engine/api_keys.h"
#include "engine/demo.h"
#include "engine/dkim_keygen.h"
#include "engine/engine.h"

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

int serve(const std::string& config_path) {
  // Block the stop signals in every thread (the engine's threads inherit this mask) and take
  // them synchronously here, so no thread is interrupted mid-syscall.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ringpost::engine::Engine engine(load_or_exit(config_path));
  if (auto r = engine.start(); !r) {
    fmt::print(stderr, "ringpost: {}\n", r.error());
    return 1;
  }
  fmt::print("ringpost listening on 127.0.0.1:{}\n", engine.http_port());
  std::fflush(stdout);
  int sig = 0;
  // SIGHUP reloads the DKIM keys (docs/dkim.md); a config that no longer loads keeps the
  // keys in use, so a typo cannot turn signing off.
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    if (config_path.empty()) {
      spdlog::warn("SIGHUP: no --config file; nothing to reload");
      continue;
    }
    auto fresh = ringpost::engine::load_config_file(config_path);
    if (!fresh) spdlog::error("SIGHUP: config error: {}; keeping the current config (limits, rules, DKIM keys)", fresh.error());
    else engine.reload(*fresh);
  }
  spdlog::info("signal {}: stopping", sig);
  engine.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringpost: outbound email delivery engine"};
  app.require_subcommand(1);
  std::string config_path;
  auto* serve_cmd = app.add_subcommand("serve", "run the server (embedded defaults without --config)");
  serve_cmd->add_option("--config", config_path, "TOML config file")->check(CLI::ExistingFile);
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
  ringpost::sink::SinkOptions sink_opts;
  auto* sink_cmd = ringpost::sink::add_sink_command(app, sink_opts);
  ringpost::load::LoadOptions bench_opts;
  auto* bench_cmd = ringpost::load::add_bench_command(app, bench_opts);
  auto* key_cmd = app.add_subcommand("key", "API key tools");
  key_cmd->require_subcommand(1);
  auto* key_new_cmd = key_cmd->add_subcommand("new", "make an API key: print the token (once) and its [[keys]] entry");
  std::string key_name;
  std::string key_role = "submit";
  key_new_cmd->add_option("name", key_name, "a name for the key, unique in the config")->required();
  key_new_cmd->add_option("--role", key_role, "submit or admin")->check(CLI::IsMember({"submit", "admin"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (*key_new_cmd) return ringpost::engine::print_new_api_key(key_name, key_role);
  if (*sink_cmd) return ringpost::sink::run_sink(sink_opts);
  if (*bench_cmd) return ringpost::load::run_bench(bench_opts);

  if (*serve_cmd) return serve(config_path);
  if (*keygen_cmd) {
    keygen.bits_given = bits_opt->count() > 0;
    return ringpost::engine::run_dkim_keygen(keygen);
  }
  std::signal(SIGPIPE, SIG_IGN);
  return ringpost::engine::run_demo(load_or_exit(config_path), demo);
}
