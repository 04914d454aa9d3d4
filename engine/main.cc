// ringpost's command line: `serve` runs a node, `demo` shows a batch going through a local sink.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/config.h"
#include "engine/demo.h"
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
  sigwait(&set, &sig);
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
  CLI11_PARSE(app, argc, argv);

  if (*serve_cmd) return serve(config_path);
  std::signal(SIGPIPE, SIG_IGN);
  return ringpost::engine::run_demo(load_or_exit(config_path), demo);
}
