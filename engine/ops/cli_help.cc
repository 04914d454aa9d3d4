// See cli_help.h. `ringpost ctl` describes its own subcommands (engine/ops/ctl/ctl_command.cc).
#include "engine/ops/cli_help.h"

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ringpost::engine {
namespace {

struct Help {
  std::string_view path;  // "dkim keygen"
  std::string_view detail;  // after the options, man-page style (the one-line description stays
                            // short: the parent's command list shows it)
  std::string_view example;
};

constexpr Help kHelp[] = {
    {"serve",
     "Run a ringpost node: the HTTP API on [server] http_listen, one delivery shard per core, the spool in\n"
     "[server] spool_dir. SIGHUP reloads limits, rules, keys and DKIM; SIGTERM drains and exits.\n"
     "Without --config the embedded defaults are used (a development setup).",
     "ringpost serve --config /etc/ringpost/ringpost.toml"},
    {"demo",
     "Start a local Postfix smtp-sink and an in-process server, submit a batch of messages over HTTP and\n"
     "report live progress (rate, done/total) and the end-to-end delivery rate.",
     "ringpost demo --messages 10000"},
    {"check-config",
     "Load a config file as `serve` would and print OK with a summary, or the error naming the file,\n"
     "line and key. Exit 0 when it loads, 2 when it does not: run it before a restart or a reload.",
     "ringpost check-config /etc/ringpost/ringpost.toml && systemctl reload ringpost"},
    {"dkim", "DKIM tools: make signing keys and print the DNS records to publish (docs/dkim.md).",
     "ringpost dkim keygen --domain example.com --selector s2026"},
    {"dkim keygen",
     "Make a DKIM signing key (ed25519 or RSA), write it to --out, and print the DNS TXT record to\n"
     "publish at <selector>._domainkey.<domain> and the [dkim.\"<domain>\"] config entry.",
     "ringpost dkim keygen --domain example.com --selector s2026 --algorithm rsa --bits 2048 --out /etc/ringpost/dkim"},
    {"key", "API key tools (docs/api.md \"Keys\").", "ringpost key new billing-agent"},
    {"key new",
     "Make an API key: print the token once (store it in the client) and the [[keys]] entry with its\n"
     "SHA-256 to paste into the config; then `kill -HUP` the server.",
     "ringpost key new ops --role admin"},
};

CLI::App* find(CLI::App& app, std::string_view path) {
  CLI::App* at = &app;
  while (!path.empty()) {
    const auto space = path.find(' ');
    const std::string_view name = path.substr(0, space);
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands({}))
      if (sub->get_name() == name) next = sub;
    if (!next) return nullptr;
    at = next;
    path = space == std::string_view::npos ? std::string_view() : path.substr(space + 1);
  }
  return at;
}

}  // namespace

void describe_commands(CLI::App& app) {
  app.footer(
      "Run `ringpost <command> --help` for a command's options and an example.\n"
      "Docs: docs/architecture.md, docs/api.md, docs/operating.md.");
  for (const Help& h : kHelp) {
    CLI::App* cmd = find(app, h.path);
    if (!cmd) continue;
    cmd->footer(std::string(h.detail) + "\n\nExample:\n  " + std::string(h.example));
  }
}

}  // namespace ringpost::engine
