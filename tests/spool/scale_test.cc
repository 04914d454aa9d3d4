// How long a restart takes, and how much memory it costs, with 1,000,000 messages queued: all
// of them are recovered from the spool before the server answers. Only the count is asserted;
// the time and memory are printed and written to RINGPOST_SPOOL_SCALE_OUT (spool-scale.txt in
// the build directory) so they can be quoted.
#include <atomic>
#include <mutex>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"
#include "tests/spool/spool_support.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

class SpoolScale : public ServerTest {};

TEST_F(SpoolScale, RestartWithOneMillionQueuedMessages) {
  constexpr int64_t kTotal = 1'000'000;
  constexpr int kPerBatch = 1000, kBatches = kTotal / kPerBatch, kClients = 4;
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  const uint16_t dead_port = (*ports)[1];  // nothing listens: every attempt is refused, retried in an hour
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1h"};
  cfg.domains = {{"scale.test", fmt::format("127.0.0.1:{}", dead_port)}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  // kClients connections, each taking the next batch number until all are sent or time is up.
  std::atomic<int> next_batch{0}, accepted_batches{0}, failed_batches{0};
  std::atomic<bool> give_up{false};
  std::mutex err_mu;
  std::string first_error;
  const auto submit_t0 = Clock::now();
  const auto submit_deadline = submit_t0 + 600s;
  {
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&] {
        RingpostApi api(server->port());
        std::vector<OutgoingMessage> batch(kPerBatch);
        for (int b = next_batch++; b < kBatches && !give_up; b = next_batch++) {
          if (Clock::now() > submit_deadline) {
            give_up = true;
            break;
          }
          for (int i = 0; i < kPerBatch; ++i) {
            const int k = b * kPerBatch + i;
            batch[i] = {"s@example.test", {fmt::format("m{}@scale.test", k)}, fmt::format("m{}", k), "x"};
          }
          auto got = api.submit_batch(batch);
          if (got && got->size() == std::size_t(kPerBatch)) {
            ++accepted_batches;
          } else {
            ++failed_batches;
            std::lock_guard lock(err_mu);
            if (first_error.empty()) first_error = got ? fmt::format("{} ids", got->size()) : got.error();
            give_up = true;  // every batch is owed; one failure already fails the test
          }
        }
      });
    }
    for (auto& t : clients) t.join();
  }
  const double submit_s = seconds_since(submit_t0);
  std::fprintf(stderr, "[ringpost-spool] submitted %d batches of %d in %.1f s (%.0f msgs/s), %d failed\n",
               accepted_batches.load(), kPerBatch, submit_s, accepted_batches * kPerBatch / submit_s,
               failed_batches.load());
  ASSERT_EQ(failed_batches.load(), 0) << "first error: " << first_error;
  ASSERT_EQ(accepted_batches.load(), kBatches) << "submission did not finish in 600 s";

  RingpostApi api(server->port());
  Stats before;
  ASSERT_TRUE(wait_until(60s, 500ms, [&] {
    auto s = api.stats();
    if (s) before = *s;
    return s && s->queued + s->deferred == kTotal;
  })) << "before the restart: queued=" << before.queued << " deferred=" << before.deferred
      << " total=" << before.total();
  const pid_t pid_before = server->process().pid();
  const int64_t rss_before = spool_it::proc_status_bytes(pid_before, "VmRSS").value_or(-1);
  const int64_t hwm_before = spool_it::proc_status_bytes(pid_before, "VmHWM").value_or(-1);
  const uint64_t spool_size = spool_it::spool_bytes(server->config().spool_dir);
  const size_t spool_files = spool_it::spool_files(server->config().spool_dir).size();

  const auto stop_t0 = Clock::now();
  const bool stopped = server->stop(120s);
  const double stop_s = seconds_since(stop_t0);
  EXPECT_TRUE(stopped) << "SIGTERM did not stop the server within 120 s; it was killed";
  // Wait (bounded) for the old listener to leave the socket table, as RingpostServer::restart
  // does, so the clock below starts at the spawn and measures recovery, not a port release.
  wait_until(10s, 5ms, [&] { return !port_is_listening(server->port()); });

  // Spawned here rather than through restart(), whose 30 s wait for "listening" is meant for
  // small spools; the clock runs from the spawn to the first stats answer with all 1M queued.
  const auto start_t0 = Clock::now();
  auto proc = Process::spawn({ringpost_binary().string(), "serve", "--config", (dir_ / "ringpost.toml").string()},
                             dir_ / "ringpost-restart.log");
  ASSERT_TRUE(proc) << proc.error();
  double listening_s = -1;
  Stats after;
  std::string last_error;
  RingpostApi api2(server->port());
  const bool ready = wait_until(600s, 20ms, [&] {
    if (!proc->running()) return true;  // reported below
    if (listening_s < 0 && proc->output().find("listening on") != std::string::npos) listening_s = seconds_since(start_t0);
    auto s = api2.stats();
    if (!s) {
      last_error = s.error();
      return false;
    }
    after = *s;
    // The line may have appeared between the look above and this answer.
    if (listening_s < 0) listening_s = seconds_since(start_t0);
    return s->queued + s->deferred == kTotal;
  });
  const double ready_s = seconds_since(start_t0);
  ASSERT_TRUE(proc->running()) << "the restarted server exited: " << proc->describe_exit() << "\n" << proc->output_tail();
  ASSERT_TRUE(ready) << "after 600 s: queued=" << after.queued << " deferred=" << after.deferred
                     << " last error: " << last_error << "\n" << proc->output_tail();
  EXPECT_EQ(after.total(), kTotal);
  const int64_t rss_after = spool_it::proc_status_bytes(proc->pid(), "VmRSS").value_or(-1);
  const int64_t hwm_after = spool_it::proc_status_bytes(proc->pid(), "VmHWM").value_or(-1);

  const std::string summary = fmt::format(
      "startup with {} queued: {:.2f} s, RSS {:.0f} MiB ({:.0f} bytes per message)\n"
      "  listening after {:.2f} s; peak RSS (VmHWM) during recovery {:.0f} MiB\n"
      "  before the restart: RSS {:.0f} MiB ({:.0f} bytes per message), VmHWM {:.0f} MiB\n"
      "  spool: {} files, {} bytes ({:.0f} bytes per message)\n"
      "  submission: {:.1f} s for {} messages in batches of {} over {} connections ({:.0f} msgs/s); SIGTERM stop {:.2f} s\n"
      "  cores: {}\n",
      kTotal, ready_s, mib(rss_after), static_cast<double>(rss_after) / kTotal, listening_s, mib(hwm_after),
      mib(rss_before), static_cast<double>(rss_before) / kTotal, mib(hwm_before), spool_files, spool_size,
      static_cast<double>(spool_size) / kTotal, submit_s, kTotal, kPerBatch, kClients, kTotal / submit_s, stop_s,
      std::thread::hardware_concurrency());
  std::fprintf(stderr, "[ringpost-spool] %s", summary.c_str());
  std::ofstream out(RINGPOST_SPOOL_SCALE_OUT);
  out << summary;
  EXPECT_TRUE(out) << "cannot write " << RINGPOST_SPOOL_SCALE_OUT;
  std::fprintf(stderr, "[ringpost-spool] written to %s\n", RINGPOST_SPOOL_SCALE_OUT);
  proc->terminate(120s);
}

}  // namespace
}  // namespace ringpost::it
