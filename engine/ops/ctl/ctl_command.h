// `ringpost ctl ...`: the operator's client for a running server's admin API. This file wires
// the CLI11 subcommands (each with a man-style description and an example) and runs the one
// chosen. Main thread only; exit codes are admin_client.h's ExitCode.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace ringpost::ctl {

struct CtlOptions {
  enum class Action { none, status, domain_show, domain_suspend, domain_resume, domain_throttle, domain_retry_now,
                      message_show, events_tail };
  Action action = Action::none;
  std::string server;  // filled from RINGPOST_URL, else the default, unless --server is given
  std::string token;   // from RINGPOST_TOKEN unless --token is given
  bool json = false;
  std::string domain;
  std::string suspend_for;
  std::string reason;
  std::string rate;
  std::string message_id;
  std::string after;
  bool follow = false;
  uint32_t limit = 20;
};

// Adds `ctl` and its subcommands to `app`; `o` must outlive parsing.
CLI::App* add_ctl_command(CLI::App& app, CtlOptions& o);

int run_ctl(const CtlOptions& o);

}  // namespace ringpost::ctl
