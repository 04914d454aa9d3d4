// `ringpost demo` reports progress while it runs (docs/operating.md "Progress"): progress
// lines on stderr, ending with every message delivered, and the report on stdout.
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/paths.h"
#include "tests/integration/run_command.h"
#include "tests/integration/temp_dir.h"

namespace ringpost::it {
namespace {

TEST(DemoProgress, PrintsDoneOverTotalAndRateUntilEverythingIsDelivered) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  if (::access("/usr/sbin/smtp-sink", X_OK) != 0) GTEST_SKIP() << "Postfix smtp-sink not installed";
  TempDir dir;  // the demo writes ./var/demo-spool: keep it out of the build tree
  CommandOptions o;
  o.cwd = dir.path();
  o.timeout = std::chrono::minutes(5);
  auto r = run_command({ringpost_binary().string(), "demo", "--messages", "3000"}, o);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->exit_code, 0) << r->describe();
  // The closing line is printed whatever the run's length; lines before it come once a second.
  EXPECT_NE(r->err.find("delivered 3000/3000 (100 %)"), std::string::npos) << r->describe();
  EXPECT_NE(r->err.find("/s"), std::string::npos) << r->describe();
  EXPECT_NE(r->out.find("delivered 3000 of 3000 messages"), std::string::npos) << r->describe();
}

}  // namespace
}  // namespace ringpost::it
