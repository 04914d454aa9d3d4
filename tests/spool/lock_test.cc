// Two processes appending to one spool would interleave their records and each would recover
// the other's messages: a second `ringpost serve` on a spool in use must refuse to start,
// naming the directory and the pid that holds it, and leave the first one undisturbed.
#include <sys/wait.h>

#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"
#include "tests/spool/spool_support.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SpoolLock : public ServerTest {};

TEST_F(SpoolLock, SecondInstanceOnTheSameSpoolRefusesToStart) {
  auto ports = pick_free_ports(3);
  ASSERT_TRUE(ports);
  auto sink = SmtpSink::start(dir_ / "sink", (*ports)[2]);
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.domains = {{"lock.test", fmt::format("127.0.0.1:{}", sink->port())}};
  auto first = RingpostServer::start(dir_ / "first", cfg);
  ASSERT_TRUE(first) << first.error();
  const fs::path spool = first->config().spool_dir;
  const pid_t first_pid = first->process().pid();

  RingpostApi api(first->port());
  auto before = api.submit({"sender@example.test", {"before@lock.test"}, "before", "sent before the second start"});
  ASSERT_TRUE(before) << before.error();
  const auto files_before = spool_it::spool_files(spool);

  // The second instance: same spool, its own HTTP port and config file.
  ServerConfig cfg2 = cfg;
  cfg2.http_port = (*ports)[1];
  cfg2.spool_dir = spool;
  const fs::path second_dir = dir_ / "second";
  fs::create_directories(second_dir);
  {
    std::ofstream out(second_dir / "ringpost.toml");
    out << render_toml(cfg2);
    ASSERT_TRUE(out);
  }
  auto second = Process::spawn(
      {ringpost_binary().string(), "serve", "--config", (second_dir / "ringpost.toml").string()},
      second_dir / "ringpost.log");
  ASSERT_TRUE(second) << second.error();
  const auto t0 = std::chrono::steady_clock::now();
  const bool exited = wait_until(15s, 20ms, [&] { return !second->running(); });
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  const std::string out = second->output();
  std::fprintf(stderr, "[ringpost-spool] second instance: %s after %lld ms: %s\n",
               exited ? second->describe_exit().c_str() : "still running", static_cast<long long>(waited.count()),
               out.c_str());
  ASSERT_TRUE(exited) << "a second server on " << spool << " was still running after 15 s"
                      << (port_is_listening(cfg2.http_port) ? " and listening" : "") << "; output:\n" << out;
  const int status = second->wait_status().value_or(0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "exit: " << second->describe_exit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "the contract says status 1: " << second->describe_exit();
  EXPECT_NE(out.find("spool directory"), std::string::npos) << out;
  EXPECT_NE(out.find("locked"), std::string::npos) << out;
  EXPECT_NE(out.find(spool.string()), std::string::npos) << "the message should name the directory: " << out;
  EXPECT_TRUE(spool_it::contains_number(out, first_pid)) << "the message should name pid " << first_pid << ": " << out;
  EXPECT_FALSE(port_is_listening(cfg2.http_port));
  // A refused instance writes nothing into the spool it does not own.
  EXPECT_EQ(spool_it::spool_files(spool), files_before) << "the refused instance created spool files";

  // The first one never noticed: it still answers, accepts and delivers.
  auto after = api.submit({"sender@example.test", {"after@lock.test"}, "after", "sent after the refused start"});
  ASSERT_TRUE(after) << after.error();
  EXPECT_TRUE(first->process().running());
  EXPECT_EQ(first->process().pid(), first_pid);
  std::map<std::string, int> seen;
  EXPECT_TRUE(wait_until(30s, 100ms, [&] {
    seen = spool_it::sink_recipient_counts(*sink);
    return seen.count("before@lock.test") && seen.count("after@lock.test");
  })) << sink->describe() << "\nfirst server log tail:\n" << first->process().output_tail();
  EXPECT_EQ(seen["before@lock.test"], 1);
  EXPECT_EQ(seen["after@lock.test"], 1);
  auto st = api.status(*after);
  EXPECT_TRUE(st) << st.error();

  // The lock belongs to the process: once the first is gone (even by SIGKILL), a new one starts.
  first->kill9();
  auto restarted = first->restart();
  EXPECT_TRUE(restarted) << "restart after SIGKILL: " << (restarted ? "" : restarted.error());
}

}  // namespace
}  // namespace ringpost::it
