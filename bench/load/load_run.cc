// See load_run.h. Submit latency is measured per batch request on the submitting thread with the
// steady clock. Submit→delivered latency is measured on sampled messages only, after the run:
// (their recipient's `updated_at`, written by the server's clock when the delivery outcome
// reached the front) − (wall clock when the client sent the batch holding it); same machine, so
// the same clock, at the API's millisecond resolution.
#include "bench/load/load_run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/load/batch_body.h"
#include "bench/load/percentiles.h"
#include "bench/load/proc_probe.h"
#include "bench/load/server_stats.h"
#include "engine/ops/blocking_http_client.h"

namespace ringpost::load {
namespace {

using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Sample {
  std::string id;
  int64_t sent_wall_ms = 0;
};

// Shared by the submitting threads; everything else they keep to themselves until joined.
struct Shared {
  const LoadOptions* opts = nullptr;
  std::string host;
  uint16_t port = 0;
  std::string text_json;
  uint64_t total = 0;  // messages to submit; 0 = until the deadline
  Clock::time_point start, deadline;
  std::atomic<uint64_t> next_batch{0};
  std::atomic<uint64_t> accepted{0}, failed{0}, errors{0};
  std::atomic<int> running{0};
  std::mutex merge;  // guards the three below, taken once per thread at its end
  std::vector<double> latencies_ms;
  std::vector<Sample> samples;
  Clock::time_point last_ack{};
};

// The first id of a batch's 202 body {"ids":["...",...]}; the bench samples one per batch.
std::string first_id(const std::string& body) {
  std::size_t at = body.find("\"ids\":[\"");
  if (at == std::string::npos) return {};
  at += 8;
  std::size_t end = body.find('"', at);
  return end == std::string::npos ? std::string{} : body.substr(at, end - at);
}

void submitter(Shared& sh) {
  const LoadOptions& o = *sh.opts;
  engine::BlockingHttpClient http(sh.host, sh.port);
  std::vector<double> lat;
  std::vector<Sample> samples;
  Clock::time_point last_ack{};
  for (;;) {
    uint64_t seq = sh.next_batch.fetch_add(1);
    uint64_t first = seq * o.batch;
    if (sh.total && first >= sh.total) break;
    if (!sh.total && Clock::now() >= sh.deadline) break;
    auto n = static_cast<uint32_t>(sh.total ? std::min<uint64_t>(o.batch, sh.total - first) : o.batch);
    std::string body = batch_body(o, sh.text_json, first, n);
    bool ok = false;
    // A 503 (spool trouble) or a dropped connection is retried with the same batch so the count
    // stays exact; after 20 tries the batch is counted as failed.
    for (int attempt = 0; attempt < 20 && !ok; ++attempt) {
      int64_t sent_wall = wall_ms();
      auto t0 = Clock::now();
      auto resp = http.request("POST", "/v1/messages/batch", body);
      auto t1 = Clock::now();
      if (resp && resp->status == 202) {
        ok = true;
        lat.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        last_ack = t1;
        if (std::string id = first_id(resp->body); !id.empty()) samples.push_back({std::move(id), sent_wall});
      } else {
        sh.errors.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    (ok ? sh.accepted : sh.failed).fetch_add(n);
  }
  std::lock_guard lock(sh.merge);
  sh.latencies_ms.insert(sh.latencies_ms.end(), lat.begin(), lat.end());
  for (auto& s : samples) sh.samples.push_back(std::move(s));
  sh.last_ack = std::max(sh.last_ack, last_ack);
  sh.running.fetch_sub(1);
}

tl::expected<std::pair<std::string, uint16_t>, std::string> parse_url(const std::string& url) {
  std::string_view u = url;
  if (u.substr(0, 7) != "http://") return tl::make_unexpected("--url: only http://host:port is supported: " + url);
  u.remove_prefix(7);
  while (!u.empty() && u.back() == '/') u.remove_suffix(1);
  std::size_t colon = u.rfind(':');
  if (colon == std::string_view::npos) return std::make_pair(std::string(u), uint16_t{80});
  int port = std::atoi(std::string(u.substr(colon + 1)).c_str());
  if (port <= 0 || port > 65535) return tl::make_unexpected("--url: bad port: " + url);
  return std::make_pair(std::string(u.substr(0, colon)), static_cast<uint16_t>(port));
}

double cpu_self_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The live line on stderr: rewritten in place on a terminal, one line per second otherwise.
void progress(const Shared& sh, uint64_t done, uint64_t base_done, double secs, bool tty) {
  uint64_t acc = sh.accepted.load();
  uint64_t delivered = done - base_done;
  std::string total = sh.total ? fmt::format("{}", sh.total) : std::string("?");
  fmt::print(stderr, "{}bench: {:.1f} s  accepted {}/{} ({:.0f}/s)  outcomes {}/{} ({:.0f}/s){}", tty ? "\r" : "", secs,
             acc, total, secs > 0 ? acc / secs : 0.0, delivered, total, secs > 0 ? delivered / secs : 0.0,
             tty ? "   " : "\n");
}

}  // namespace

tl::expected<LoadResult, std::string> run_load(const LoadOptions& o) {
  auto hp = parse_url(o.url);
  if (!hp) return tl::make_unexpected(hp.error());
  if (o.batch == 0 || o.batch > 1000) return tl::make_unexpected("--batch must be 1..1000 (the API's limit)");
  Shared sh;
  sh.opts = &o;
  sh.host = hp->first;
  sh.port = hp->second;
  sh.text_json = json_escape_text(make_text(o.size));
  sh.total = o.messages ? o.messages : (o.duration_s > 0 ? 0 : 10000);

  engine::BlockingHttpClient poll(sh.host, sh.port);
  StatsSnapshot base = read_stats(poll);
  if (!base.ok) return tl::make_unexpected(fmt::format("GET {}/v1/stats failed: is ringpost serving there?", o.url));
  LoadResult r;
  r.server_pid = o.server_pid ? o.server_pid : find_listener(sh.port);
  ProcSample cpu0 = r.server_pid ? sample_process(r.server_pid) : ProcSample{};
  double client0 = cpu_self_s();

  sh.start = Clock::now();
  sh.deadline = sh.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::vector<std::thread> threads;
  sh.running = static_cast<int>(o.concurrency);
  for (uint32_t i = 0; i < o.concurrency; ++i) threads.emplace_back([&sh] { submitter(sh); });

  const bool tty = ::isatty(2);
  StatsSnapshot last = base;
  auto next_print = sh.start + std::chrono::seconds(1);
  Clock::time_point submit_done{}, wait_until{};
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = Clock::now();
    if (StatsSnapshot s = read_stats(poll); s.ok) last = s;
    bool submitting = sh.running.load() > 0;
    if (!submitting && submit_done == Clock::time_point{}) {
      submit_done = now;
      wait_until = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.wait_s));
    }
    if (now >= next_print) {
      progress(sh, last.done(), base.done(), std::chrono::duration<double>(now - sh.start).count(), tty);
      next_print += std::chrono::seconds(1);
    }
    if (submitting) continue;
    // Every accepted message has an outcome (deliveries of earlier runs are in `base`).
    if (last.done() >= base.done() + sh.accepted.load()) {
      r.complete = true;
      r.done_s = std::chrono::duration<double>(now - sh.start).count();
      break;
    }
    if (now >= wait_until) {
      r.done_s = std::chrono::duration<double>(now - sh.start).count();
      break;
    }
  }
  for (auto& t : threads) t.join();
  if (tty) fmt::print(stderr, "\n");

  if (r.server_pid) {
    ProcSample cpu1 = sample_process(r.server_pid);
    if (cpu0.ok && cpu1.ok) {
      r.server_cpu_s = cpu1.cpu_s - cpu0.cpu_s;
      r.server_hwm_kb = cpu1.hwm_kb;
      r.server_rss_kb = cpu1.rss_kb;
    }
  }
  r.client_cpu_s = cpu_self_s() - client0;
  r.accepted = sh.accepted;
  r.failed = sh.failed;
  r.http_errors = sh.errors;
  r.submit_s = std::chrono::duration<double>(sh.last_ack - sh.start).count();
  r.delivered = last.delivered - base.delivered;
  r.bounced = last.bounced - base.bounced;
  r.expired = last.expired - base.expired;
  r.connections_opened = last.connections_opened - base.connections_opened;
  r.transactions = last.transactions - base.transactions;
  r.submit_ms = percentiles(std::move(sh.latencies_ms));

  // Evenly spaced over the run (the samples are in completion order per thread, merged).
  std::vector<double> delivery;
  std::size_t n = sh.samples.size();
  std::size_t want = std::min<std::size_t>(o.samples, n);
  for (std::size_t k = 0; k < want; ++k) {
    const Sample& s = sh.samples[k * n / want];
    if (auto at = delivered_at_ms(poll, s.id)) delivery.push_back(static_cast<double>(*at - s.sent_wall_ms));
    else ++r.samples_not_delivered;
  }
  r.delivery_ms = percentiles(std::move(delivery));
  return r;
}

}  // namespace ringpost::load
