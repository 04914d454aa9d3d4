// See ctl_command.h. Each command is one or two admin API calls (docs/shaping.md "Admin API",
// docs/api.md) and one view from views.h; this file only decides which, and what goes to
// stdout (results) versus stderr (errors and hints), so `--json` output can be piped.
#include "engine/ops/ctl/ctl_command.h"

#include <cstdio>
#include <cstdlib>
#include <deque>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "engine/api/json_escape.h"
#include "engine/ops/ctl/admin_client.h"
#include "engine/ops/ctl/views.h"

namespace ringpost::ctl {
namespace {

using Action = CtlOptions::Action;

// A long poll waits up to this on the server; the socket timeout must be longer.
constexpr int kPollWaitS = 30;
constexpr uint32_t kPageLimit = 1000;

CLI::App* command(CLI::App& parent, CtlOptions& o, Action action, std::string name, std::string description,
                  std::string example) {
  CLI::App* sub = parent.add_subcommand(std::move(name), std::move(description));
  // Options given after the subcommand (`ctl status --json`) belong to `ctl`.
  sub->fallthrough();
  sub->footer("Also takes ctl's --server URL, --token TOKEN and --json (see ringpost ctl --help).\n\nExample:\n  " +
              example);
  if (action != Action::none) sub->callback([&o, action] { o.action = action; });
  return sub;
}

int fail(const CallError& e) {
  fmt::print(stderr, "ringpost ctl: {}\n", e.message);
  return e.exit_code;
}

int print_or_fail(const tl::expected<std::string, std::string>& view) {
  if (!view) {
    fmt::print(stderr, "ringpost ctl: {}\n", view.error());
    return kRefused;
  }
  fmt::print("{}", *view);
  return kOk;
}

// The body of PUT /v1/domains/{d}/throttle for `RATE`: a number, a rate such as "300/min"
// (checked by the server, which names the problem), or `config` to drop the override.
std::string throttle_body(const std::string& rate) {
  if (rate == "config" || rate == "none" || rate == "off") return R"({"msgs_per_second":null})";
  char* end = nullptr;
  std::strtod(rate.c_str(), &end);
  if (!rate.empty() && end && *end == '\0') return fmt::format(R"({{"msgs_per_second":{}}})", rate);
  std::string body = R"({"msgs_per_second":)";
  api::append_json_string(body, rate);
  return body + "}";
}

std::string suspend_body(const CtlOptions& o) {
  std::string body = "{";
  if (!o.suspend_for.empty()) {
    body += "\"for\":";
    api::append_json_string(body, o.suspend_for);
  }
  if (!o.reason.empty()) {
    if (body.size() > 1) body += ',';
    body += "\"reason\":";
    api::append_json_string(body, o.reason);
  }
  return body + "}";
}

void print_events(const std::vector<Event>& events, bool json) {
  for (const Event& e : events) fmt::print("{}\n", json ? e.json : event_line(e));
  std::fflush(stdout);
}

std::string events_target(const std::string& after, uint32_t limit, int wait_s) {
  std::string t = fmt::format("/v1/events?limit={}", limit);
  if (!after.empty()) t += "&after=" + path_segment(after);
  if (wait_s) t += fmt::format("&wait={}", wait_s);
  return t;
}

// Without --follow: the last `limit` events after --after (paging through the feed), then the
// cursor to continue from. With --follow: those, then every new event as it arrives.
int events_tail(AdminClient& client, const CtlOptions& o) {
  std::deque<Event> last;
  std::string cursor = o.after;
  for (;;) {
    auto body = client.call("GET", events_target(cursor, kPageLimit, 0));
    if (!body) return fail(body.error());
    auto page = parse_events(*body);
    if (!page) return fail(CallError{kRefused, page.error()});
    for (Event& e : page->events) {
      last.push_back(std::move(e));
      if (last.size() > o.limit) last.pop_front();
    }
    cursor = page->next_cursor;
    if (page->events.size() < kPageLimit) break;
  }
  std::vector<Event> shown(last.begin(), last.end());
  if (!o.follow) {
    if (o.json) {
      std::string out = "{\"events\":[";
      for (std::size_t i = 0; i < shown.size(); ++i) out += (i ? "," : "") + shown[i].json;
      out += "],\"next_cursor\":";
      api::append_json_string(out, cursor);
      fmt::print("{}}}\n", out);
    } else {
      if (shown.empty()) fmt::print(stderr, "no events\n");
      print_events(shown, false);
      fmt::print(stderr, "next cursor: {} (ringpost ctl events tail --after {})\n", cursor, cursor);
    }
    return kOk;
  }
  // --follow: JSON lines, so a script can read one event per line for as long as it runs.
  print_events(shown, o.json);
  for (;;) {
    auto body = client.call("GET", events_target(cursor, kPageLimit, kPollWaitS));
    if (!body) return fail(body.error());
    auto page = parse_events(*body);
    if (!page) return fail(CallError{kRefused, page.error()});
    print_events(page->events, o.json);
    cursor = page->next_cursor;
  }
}

int status(AdminClient& client, const CtlOptions& o) {
  auto domains = client.call("GET", "/v1/domains");
  if (!domains) return fail(domains.error());
  auto stats = client.call("GET", "/v1/stats");
  if (!stats) return fail(stats.error());
  return print_or_fail(o.json ? status_json(*domains, *stats) : status_text(*domains, *stats));
}

// A call that answers with a domain object: printed as the server sent it (--json) or as fields.
int domain_answer(AdminClient& client, const CtlOptions& o, const std::string& method, const std::string& action,
                  const std::string& body, std::string_view done) {
  std::string target = "/v1/domains/" + path_segment(o.domain) + (action.empty() ? "" : "/" + action);
  auto answer = client.call(method, target, body);
  if (!answer) return fail(answer.error());
  if (o.json) return fmt::print("{}\n", *answer), kOk;
  if (!done.empty()) fmt::print("{}: {}\n\n", o.domain, done);
  return print_or_fail(domain_text(*answer));
}

}  // namespace

CLI::App* add_ctl_command(CLI::App& app, CtlOptions& o) {
  if (const char* url = std::getenv("RINGPOST_URL"); url && *url) o.server = url;
  else o.server = "http://127.0.0.1:8025";
  if (const char* token = std::getenv("RINGPOST_TOKEN")) o.token = token;

  CLI::App* ctl = app.add_subcommand("ctl", "control a running server through its admin API");
  ctl->footer(
      "Talks to a running server's admin HTTP API: queue status, per-domain suspend/resume/throttle/\n"
      "retry, message status and the event feed. Tables for people; --json for scripts.\n\n"
      "Exit status: 0 ok; 1 the server refused or failed (its error message is printed);\n"
      "2 usage error; 3 the server cannot be reached.\n\n"
      "Environment:\n  RINGPOST_URL    default for --server\n  RINGPOST_TOKEN  default for --token\n\n"
      "Example:\n  RINGPOST_TOKEN=secret ringpost ctl status");
  ctl->require_subcommand(1);
  ctl->add_option("--server", o.server, "admin API base URL, http://host[:port] (env RINGPOST_URL)")->capture_default_str();
  ctl->add_option("--token", o.token, "[server] admin_token or an admin API key (env RINGPOST_TOKEN)");
  ctl->add_flag("--json", o.json, "print JSON for scripts instead of tables");

  command(*ctl, o, Action::status, "status",
          "queue summary: every destination domain sorted by queued messages, then the node's totals "
          "(GET /v1/domains, GET /v1/stats)",
          "ringpost ctl status --json | jq '.domains[0]'");

  CLI::App* domain = command(*ctl, o, Action::none, "domain",
                             "inspect and steer one destination domain: show, suspend, resume, throttle, retry-now",
                             "ringpost ctl domain suspend gmail.com --for 10m --reason 'blocklisted'");
  domain->require_subcommand(1);
  auto domain_arg = [&o](CLI::App* sub) { sub->add_option("domain", o.domain, "the destination domain")->required(); };
  domain_arg(command(*domain, o, Action::domain_show, "show",
                     "queue, connections, measured rate, limits in force, suspension and last error of a domain",
                     "ringpost ctl domain show example.com"));
  CLI::App* suspend = command(*domain, o, Action::domain_suspend, "suspend",
                              "stop delivering to a domain until resumed or for a while; its mail waits (other domains on its site go on)",
                              "ringpost ctl domain suspend example.com --for 30m --reason 'provider asked us to pause'");
  domain_arg(suspend);
  suspend->add_option("--for", o.suspend_for, "how long, e.g. 10m, 2h; without it: until `domain resume`");
  suspend->add_option("--reason", o.reason, "why, for the server's log");
  domain_arg(command(*domain, o, Action::domain_resume, "resume", "end an operator's suspension of a domain",
                     "ringpost ctl domain resume example.com"));
  CLI::App* throttle = command(*domain, o, Action::domain_throttle, "throttle",
                               "set a domain's message rate (persisted; in force within one 50 ms tick)",
                               "ringpost ctl domain throttle example.com 300/min");
  domain_arg(throttle);
  throttle->add_option("rate", o.rate, "messages per second: a number, \"300/min\", \"50/s\", \"3600/h\", or config "
                                       "(back to the config file's value)")
      ->required();
  domain_arg(command(*domain, o, Action::domain_retry_now, "retry-now",
                     "try every deferred recipient of a domain now instead of at its next retry time",
                     "ringpost ctl domain retry-now example.com"));

  CLI::App* message = command(*ctl, o, Action::none, "message", "look up a message by its id",
                              "ringpost ctl message show 01M8A1QARMMN7GJ7ZYR0YJMVPT");
  message->require_subcommand(1);
  command(*message, o, Action::message_show, "show",
          "per recipient: state, attempts, last SMTP reply (and its bounce class), site, last change",
          "ringpost ctl message show 01M8A1QARMMN7GJ7ZYR0YJMVPT")
      ->add_option("id", o.message_id, "the id POST /v1/messages answered")
      ->required();

  CLI::App* events = command(*ctl, o, Action::none, "events", "read the delivery event feed (GET /v1/events)",
                             "ringpost ctl events tail --follow");
  events->require_subcommand(1);
  CLI::App* tail = command(*events, o, Action::events_tail, "tail",
                           "print the last events (accepted, deferred, delivered, bounced, expired) and the cursor "
                           "to continue from; --follow keeps printing new ones as they happen (long poll)",
                           "ringpost ctl events tail --limit 50 --follow --json");
  tail->add_option("--after", o.after, "start after this cursor (a next_cursor printed earlier)");
  tail->add_flag("--follow,-f", o.follow, "keep waiting for new events (JSON lines with --json) until interrupted");
  tail->add_option("--limit,-n", o.limit, "show at most this many of the existing events")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  return ctl;
}

int run_ctl(const CtlOptions& o) {
  auto url = parse_server_url(o.server);
  if (!url) {
    fmt::print(stderr, "ringpost ctl: {}\n", url.error());
    return kUsage;
  }
  AdminClient client(*url, o.token, o.action == Action::events_tail ? kPollWaitS + 15 : 30);
  switch (o.action) {
    case Action::status:
      return status(client, o);
    case Action::domain_show:
      return domain_answer(client, o, "GET", "", "", "");
    case Action::domain_suspend:
      return domain_answer(client, o, "POST", "suspend", suspend_body(o), "suspended");
    case Action::domain_resume:
      return domain_answer(client, o, "POST", "resume", "", "resumed");
    case Action::domain_throttle:
      return domain_answer(client, o, "PUT", "throttle", throttle_body(o.rate), "throttle set");
    case Action::domain_retry_now: {
      auto answer = client.call("POST", "/v1/domains/" + path_segment(o.domain) + "/retry-now");
      if (!answer) return fail(answer.error());
      if (o.json) return fmt::print("{}\n", *answer), kOk;
      return print_or_fail(retry_now_text(*answer));
    }
    case Action::message_show: {
      auto answer = client.call("GET", "/v1/messages/" + path_segment(o.message_id));
      if (!answer) return fail(answer.error());
      if (o.json) return fmt::print("{}\n", *answer), kOk;
      return print_or_fail(message_text(*answer));
    }
    case Action::events_tail:
      return events_tail(client, o);
    case Action::none:
      break;
  }
  fmt::print(stderr, "ringpost ctl: no command (see ringpost ctl --help)\n");
  return kUsage;
}

}  // namespace ringpost::ctl
