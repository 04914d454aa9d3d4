// See load_cli.h. The report goes to stdout (text, or one JSON object with --json); progress
// goes to stderr.
#include "bench/load/load_cli.h"

#include <csignal>

#include <fmt/format.h>

#include "bench/load/load_run.h"
#include "engine/ops/subcommand_registry.h"

namespace ringpost::load {

CLI::App* add_bench_command(CLI::App& app, LoadOptions& o) {
  auto* cmd = app.add_subcommand("bench", "load generator: submit over HTTP to a running ringpost, wait, report");
  cmd->add_option("--url", o.url, "ringpost's HTTP API")->capture_default_str();
  cmd->add_option("--batch", o.batch, "messages per POST /v1/messages/batch")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--concurrency", o.concurrency, "HTTP connections (one thread each)")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--size", o.size, "bytes of text per message")->check(CLI::Range(1, 10 << 20))->capture_default_str();
  cmd->add_option("--domains", o.domains, "destination domains: --domain if 1, else d<k>.<--domain>")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--domain", o.domain, "destination domain (or suffix)")->capture_default_str();
  cmd->add_option("--messages", o.messages, "messages to submit (default 10000 without --duration)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  cmd->add_option("--duration", o.duration_s, "or submit for this many seconds")->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--wait", o.wait_s, "then wait at most this many seconds for every outcome")->capture_default_str();
  cmd->add_option("--samples", o.samples, "messages whose status is read for submit→delivered latency")->capture_default_str();
  cmd->add_option("--server-pid", o.server_pid, "server pid for CPU and RSS (default: the listener on the URL's port)");
  cmd->add_flag("--json", o.json, "report as one JSON object");
  return cmd;
}

namespace {

std::string pct_json(const Percentiles& p) {
  return fmt::format(R"({{"count":{},"p50":{:.2f},"p99":{:.2f},"p999":{:.2f},"max":{:.2f}}})", p.count, p.p50, p.p99,
                     p.p999, p.max);
}

}  // namespace

int run_bench(const LoadOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  auto res = run_load(o);
  if (!res) {
    fmt::print(stderr, "bench: {}\n", res.error());
    return 1;
  }
  const LoadResult& r = *res;
  uint64_t outcomes = r.delivered + r.bounced + r.expired;
  double accepted_rate = r.submit_s > 0 ? r.accepted / r.submit_s : 0;
  double delivered_rate = r.done_s > 0 ? r.delivered / r.done_s : 0;
  double per_conn = r.connections_opened ? double(r.transactions) / double(r.connections_opened) : 0;
  double cpu_per_k = outcomes ? r.server_cpu_s * 1000.0 / double(outcomes) : 0;
  if (o.json) {
    fmt::print(
        R"({{"accepted":{},"failed":{},"http_errors":{},"submit_s":{:.3f},"accepted_per_s":{:.1f},)"
        R"("delivered":{},"bounced":{},"expired":{},"complete":{},"done_s":{:.3f},"delivered_per_s":{:.1f},)"
        R"("submit_latency_ms":{},"submit_to_delivered_ms":{},"samples_not_delivered":{},)"
        R"("connections_opened":{},"transactions":{},"messages_per_connection":{:.2f},)"
        R"("server_pid":{},"server_cpu_s":{:.3f},"server_cpu_s_per_1000":{:.4f},"server_vmhwm_kb":{},"server_vmrss_kb":{},)"
        R"("client_cpu_s":{:.3f},"batch":{},"concurrency":{},"size":{},"domains":{}}})"
        "\n",
        r.accepted, r.failed, r.http_errors, r.submit_s, accepted_rate, r.delivered, r.bounced, r.expired,
        r.complete ? "true" : "false", r.done_s, delivered_rate, pct_json(r.submit_ms), pct_json(r.delivery_ms),
        r.samples_not_delivered, r.connections_opened, r.transactions, per_conn, r.server_pid, r.server_cpu_s, cpu_per_k,
        r.server_hwm_kb, r.server_rss_kb, r.client_cpu_s, o.batch, o.concurrency, o.size, o.domains);
  } else {
    fmt::print("accepted   {} messages in {:.2f} s: {:.0f} msgs/s ({} failed, {} HTTP errors retried)\n", r.accepted,
               r.submit_s, accepted_rate, r.failed, r.http_errors);
    fmt::print("outcomes   {} delivered, {} bounced, {} expired in {:.2f} s from the first submit: {:.0f} delivered/s{}\n",
               r.delivered, r.bounced, r.expired, r.done_s, delivered_rate, r.complete ? "" : " (INCOMPLETE: --wait ran out)");
    fmt::print("submit     batch of {} latency ms: p50 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f} ({} requests)\n", o.batch,
               r.submit_ms.p50, r.submit_ms.p99, r.submit_ms.p999, r.submit_ms.max, r.submit_ms.count);
    fmt::print("delivery   submit→delivered ms (updated_at − send time, {} sampled): p50 {:.0f}  p99 {:.0f}  max {:.0f}; "
               "{} samples not delivered\n",
               r.delivery_ms.count, r.delivery_ms.p50, r.delivery_ms.p99, r.delivery_ms.max, r.samples_not_delivered);
    fmt::print("smtp       {} connections opened, {:.1f} messages per connection\n", r.connections_opened, per_conn);
    if (r.server_pid)
      fmt::print("server     pid {}: {:.2f} CPU s, {:.3f} CPU s per 1,000 messages, peak RSS (VmHWM) {} MiB\n", r.server_pid,
                 r.server_cpu_s, cpu_per_k, r.server_hwm_kb / 1024);
    else
      fmt::print("server     pid unknown (not found by port; give --server-pid): no CPU or RSS figures\n");
    fmt::print("client     {:.2f} CPU s\n", r.client_cpu_s);
  }
  return r.complete && r.failed == 0 ? 0 : 1;
}

}  // namespace ringpost::load

namespace ringpost::load {
namespace {

// `ringpost bench` (engine/ops/subcommand_registry.h).
const bool registered = engine::register_command({
    [](CLI::App& app, std::function<int()>& run) {
      auto opts = std::make_shared<LoadOptions>();
      CLI::App* cmd = add_bench_command(app, *opts);
      cmd->footer(
          "Drive a running server with batches over HTTP and report accepted and delivered rates, latency\n"
          "percentiles and server CPU; prints live progress (rate, done/total) once a second on stderr.\n\n"
          "Example:\n  ringpost bench --url http://127.0.0.1:8025 --messages 100000 --concurrency 4");
      run = [opts] { return run_bench(*opts); };
      return cmd;
    },
    /*runs_a_ring=*/false,
});

}  // namespace
}  // namespace ringpost::load
