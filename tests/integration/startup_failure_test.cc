// A thread that cannot set itself up (its io_uring, its resolver, the spool it opens) must not
// take the process down with std::terminate: `ringpost serve` says why and exits 1 (issue 20,
// defect 8). Reproduced with the file-descriptor limit: swept across the range where start-up
// runs out of descriptors at each step in turn (listener, spool, a shard's ring, the front's
// ring, the first spool file), every run either starts or exits 1 with a reason; none aborts.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/free_port.h"
#include "tests/integration/run_command.h"
#include "tests/integration/server_test.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class StartupFailure : public ServerTest {};

TEST_F(StartupFailure, OutOfDescriptorsAtAnyStepExitsWithTheReasonNeverAborts) {
  if (!std::filesystem::exists("/usr/bin/prlimit")) GTEST_SKIP() << "no /usr/bin/prlimit (util-linux)";
  auto ports = pick_free_ports(1);
  ASSERT_TRUE(ports) << ports.error().message();
  const auto config = dir_.path() / "ringpost.toml";
  int started = 0, refused = 0, thread_setup = 0;
  for (int n = 8; n <= 26; ++n) {
    const auto spool = dir_.path() / fmt::format("spool-{}", n);
    std::ofstream(config) << fmt::format("[server]\nhttp_listen = \"127.0.0.1:{}\"\nspool_dir = \"{}\"\nthreads = 2\n",
                                         (*ports)[0], spool.string());
    CommandOptions opts;
    opts.timeout = 2s;  // a server that started runs until this kills it
    auto r = run_command({"/usr/bin/prlimit", fmt::format("--nofile={}:{}", n, n), ringpost_binary().string(), "serve",
                          "--config", config.string()},
                         opts);
    ASSERT_TRUE(r) << r.error();
    if (r->out.find("ringpost listening on") != std::string::npos) {
      ++started;
      continue;
    }
    EXPECT_EQ(r->exit_code, 1) << "with " << n << " descriptors: " << r->describe();
    EXPECT_NE(r->err.find("ringpost: "), std::string::npos) << "with " << n << " descriptors: " << r->describe();
    EXPECT_NE(r->err.find("Too many open files"), std::string::npos) << "with " << n << " descriptors: " << r->describe();
    EXPECT_EQ(r->err.find("terminate called"), std::string::npos) << r->describe();
    ++refused;
    if (r->err.find("cannot start:") != std::string::npos) ++thread_setup;
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(started, 0) << "the sweep never reached a limit that is enough";
  // The sweep must cover the threads' own set-up, the step that used to abort.
  EXPECT_GT(thread_setup, 0) << "no run failed inside a thread's set-up; widen the sweep";
}

}  // namespace
}  // namespace ringpost::it
