// See sink_cli.h. Progress lines go to stderr, the final summary to stdout (text or --json), so
// a script can parse stdout while a person watches stderr.
#include "bench/sink/sink_cli.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "bench/sink/sink_server.h"
#include "engine/ops/subcommand_registry.h"

namespace ringpost::sink {

CLI::App* add_sink_command(CLI::App& app, SinkOptions& o) {
  auto* cmd = app.add_subcommand("sink", "an io_uring SMTP sink for benchmarks, with fault injection");
  cmd->add_option("--listen", o.listen, "IPv4 address:port to listen on")->capture_default_str();
  cmd->add_option("--hostname", o.smtp.hostname, "name in the banner and EHLO reply")->capture_default_str();
  cmd->add_option("--max-size", o.smtp.max_message_size, "SIZE limit in bytes")->capture_default_str();
  cmd->add_flag("!--no-pipelining", o.smtp.pipelining, "do not offer PIPELINING");
  cmd->add_flag("!--no-chunking", o.smtp.chunking, "do not offer CHUNKING (BDAT)");
  cmd->add_flag("!--no-8bitmime", o.smtp.eightbitmime, "do not offer 8BITMIME");
  cmd->add_option("--tls-cert", o.tls_cert, "PEM certificate chain: offer STARTTLS")->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--latency", o.latency_ms, "ms added before each reply")->capture_default_str();
  cmd->add_option("--rcpt-4xx", o.smtp.rcpt_4xx_pct, "percent of RCPT answered 450")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--rcpt-5xx", o.smtp.rcpt_5xx_pct, "percent of RCPT answered 550")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--data-4xx", o.smtp.data_4xx_pct, "percent of messages answered 451 after the content")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--data-5xx", o.smtp.data_5xx_pct, "percent of messages answered 554 after the content")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--421-after", o.smtp.reply_421_after, "answer MAIL with 421 and close after N messages on a connection");
  cmd->add_option("--drop-after", o.smtp.drop_after, "close the connection right after its Nth message");
  cmd->add_option("--max-connections", o.max_connections, "refuse connections beyond N with 421 (0 = no limit)");
  cmd->add_option("--duration", o.duration_s, "stop after this many seconds (0 = until SIGINT/SIGTERM)");
  cmd->add_option("--messages", o.max_messages, "stop once this many messages were accepted");
  cmd->add_option("--interval", o.interval_ms, "ms between progress lines and series rows")->capture_default_str();
  cmd->add_option("--series", o.series_path, "write per-interval counts here (TSV)");
  cmd->add_flag("--json", o.json, "final summary as JSON");
  cmd->add_flag("--quiet", o.quiet, "no progress lines");
  return cmd;
}

namespace {

std::string summary_json(const Totals& t, double cpu_user, double cpu_sys, long max_rss_kb) {
  const SinkCounters& s = t.smtp;
  double secs = t.seconds > 0 ? t.seconds : 1e-9;
  double span = t.last_message_unix_ms > t.first_message_unix_ms
                    ? (t.last_message_unix_ms - t.first_message_unix_ms) / 1000.0
                    : 0.0;
  return fmt::format(
      R"({{"messages":{},"messages_rejected":{},"recipients":{},"recipients_rejected":{},"message_bytes":{},)"
      R"("connections":{},"connections_refused":{},"max_open_connections":{},"replies_421":{},"drops":{},)"
      R"("tls_started":{},"seconds":{:.3f},"msgs_per_s":{:.1f},"start_unix_ms":{},"first_message_unix_ms":{},)"
      R"("last_message_unix_ms":{},"first_to_last_s":{:.3f},"cpu_user_s":{:.3f},"cpu_sys_s":{:.3f},"max_rss_kb":{}}})",
      s.messages, s.messages_rejected, s.recipients, s.recipients_rejected, s.message_bytes, t.connections,
      t.connections_refused, t.max_open, s.replies_421, s.drops, s.tls_started, t.seconds, s.messages / secs,
      t.start_unix_ms, t.first_message_unix_ms, t.last_message_unix_ms, span, cpu_user, cpu_sys, max_rss_kb);
}

}  // namespace

int run_sink(const SinkOptions& opts) {
  std::signal(SIGPIPE, SIG_IGN);
  // Taken through a signalfd read on the ring, so a stop request is just another completion.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);

  if ((opts.tls_cert.empty()) != (opts.tls_key.empty())) {
    fmt::print(stderr, "sink: --tls-cert and --tls-key go together\n");
    return 2;
  }
  SinkServer server(opts);
  if (auto r = server.listen(); !r) {
    fmt::print(stderr, "sink: {}\n", r.error());
    return 1;
  }
  fmt::print(stderr, "ringpost sink listening on {}:{}{}\n", opts.listen.substr(0, opts.listen.rfind(':')), server.port(),
             opts.tls_cert.empty() ? "" : " (STARTTLS offered)");
  std::FILE* series = nullptr;
  if (!opts.series_path.empty()) {
    series = std::fopen(opts.series_path.c_str(), "w");
    if (!series) {
      fmt::print(stderr, "sink: cannot write {}\n", opts.series_path);
      return 1;
    }
    fmt::print(series, "# t_s\tunix_ms\tinterval_s\tmessages\tmsgs_per_s\tconnections\topen\tmessages_total\n");
  }
  server.run(sfd, [&](const Tick& t) {
    double rate = t.interval_s > 0 ? t.messages / t.interval_s : 0;
    if (series) {
      fmt::print(series, "{:.3f}\t{}\t{:.3f}\t{}\t{:.1f}\t{}\t{}\t{}\n", t.t_s, t.unix_ms, t.interval_s, t.messages, rate,
                 t.connections, t.open, t.messages_total);
      std::fflush(series);
    }
    if (!opts.quiet)
      fmt::print(stderr, "sink: t={:.1f}s msgs/s={:.0f} conns/s={:.0f} open={} total={}\n", t.t_s, rate,
                 t.interval_s > 0 ? t.connections / t.interval_s : 0, t.open, t.messages_total);
  });
  if (series) std::fclose(series);

  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  double user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  double sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  const Totals& t = server.totals();
  if (opts.json) {
    fmt::print("{}\n", summary_json(t, user, sys, ru.ru_maxrss));
  } else {
    fmt::print("sink: {} messages ({} rejected), {} recipients ({} rejected), {} connections ({} refused), {:.2f} s, "
               "{:.0f} msgs/s, cpu {:.2f} s user + {:.2f} s sys\n",
               t.smtp.messages, t.smtp.messages_rejected, t.smtp.recipients, t.smtp.recipients_rejected, t.connections,
               t.connections_refused, t.seconds, t.seconds > 0 ? t.smtp.messages / t.seconds : 0.0, user, sys);
  }
  if (sfd >= 0) ::close(sfd);
  return 0;
}

}  // namespace ringpost::sink

namespace ringpost::sink {
namespace {

// `ringpost sink` (engine/ops/subcommand_registry.h).
const bool registered = engine::register_command({
    [](CLI::App& app, std::function<int()>& run) {
      auto opts = std::make_shared<SinkOptions>();
      CLI::App* cmd = add_sink_command(app, *opts);
      cmd->footer(
          "Run the benchmark SMTP sink: accepts every message and counts it, so `bench` measures ringpost\n"
          "and not the receiver.\n\nExample:\n  ringpost sink --listen 127.0.0.1:2525");
      run = [opts] { return run_sink(*opts); };
      return cmd;
    },
    /*runs_a_ring=*/true,
});

}  // namespace
}  // namespace ringpost::sink
