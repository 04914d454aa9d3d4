// `cmake --install` as a packager runs it: into a fresh prefix, then the installed binary checks
// the installed example config, refuses a broken copy naming file, line and key, and
// systemd-analyze verifies the installed unit (skipped where systemd-analyze is missing).
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/paths.h"
#include "tests/integration/run_command.h"
#include "tests/integration/temp_dir.h"

namespace ringpost::it {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// 1-based number of the first line of `text` that starts with `prefix`; 0 if none.
int line_of(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    ++n;
    if (line.starts_with(prefix)) return n;
  }
  return 0;
}

class PackagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
    prefix_ = dir_.path() / "prefix";
    auto r = run_command({RINGPOST_IT_CMAKE, "--install", RINGPOST_IT_BUILD_DIR, "--prefix", prefix_.string()});
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->exit_code, 0) << r->describe();
  }
  CommandResult check_config(const fs::path& file) {
    auto r = run_command({(prefix_ / "bin/ringpost").string(), "check-config", file.string()});
    EXPECT_TRUE(r) << r.error();
    return r ? *r : CommandResult{};
  }

  TempDir dir_;
  fs::path prefix_;
};

TEST_F(PackagingTest, InstallsBinaryConfigAndUnit) {
  struct stat st{};
  ASSERT_EQ(::stat((prefix_ / "bin/ringpost").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  EXPECT_TRUE(fs::exists(prefix_ / "etc/ringpost/ringpost.toml.example"));
  EXPECT_TRUE(fs::exists(prefix_ / "lib/sysusers.d/ringpost.conf"));
  EXPECT_TRUE(fs::exists(prefix_ / "lib/tmpfiles.d/ringpost.conf"));
  const std::string unit = slurp(prefix_ / "lib/systemd/system/ringpost.service");
  ASSERT_FALSE(unit.empty());
  EXPECT_NE(unit.find(fmt::format("\nExecStart={}/bin/ringpost serve --config {}/etc/ringpost/ringpost.toml\n",
                                  prefix_.string(), prefix_.string())),
            std::string::npos)
      << unit;
  for (const char* line :
       {"User=ringpost", "ReadWritePaths=/var/spool/ringpost", "NoNewPrivileges=yes", "ProtectSystem=strict",
        "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallArchitectures=native", "LimitNOFILE=1048576",
        "KillSignal=SIGTERM", "ExecReload=/bin/kill -HUP $MAINPID"})
    EXPECT_NE(unit.find(std::string("\n") + line + "\n"), std::string::npos) << line;
  EXPECT_EQ(unit.find('@'), std::string::npos) << "an unreplaced @VAR@:\n" << unit;
}

TEST_F(PackagingTest, UnitStopTimeoutOutlastsTheDrainTimeout) {
  const std::string unit = slurp(prefix_ / "lib/systemd/system/ringpost.service");
  const auto at = unit.find("\nTimeoutStopSec=");
  ASSERT_NE(at, std::string::npos) << unit;
  const int stop_s = std::stoi(unit.substr(at + 16));
  // The example's drain_timeout is the default (30s) unless it sets one.
  const std::string example = slurp(prefix_ / "etc/ringpost/ringpost.toml.example");
  int drain_s = 30;
  if (auto d = example.find("\ndrain_timeout = \""); d != std::string::npos) drain_s = std::stoi(example.substr(d + 18));
  EXPECT_GT(stop_s, drain_s);
}

TEST_F(PackagingTest, CheckConfigAcceptsTheExampleAndNamesLineAndKeyOfABrokenOne) {
  const fs::path example = prefix_ / "etc/ringpost/ringpost.toml.example";
  auto ok = check_config(example);
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_NE(ok.out.find(example.string() + ": OK"), std::string::npos) << ok.describe();

  // The example covers every section, active or commented out.
  const std::string text = slurp(example);
  for (const char* section : {"[server]", "[api]", "[log]", "[spool]", "[dns]", "[defaults]", "[domains.", "[[rules]]",
                              "[dkim.", "[[keys]]", "[[webhooks]]"})
    EXPECT_NE(text.find(section), std::string::npos) << section;

  // A wrong type: the value is checked where it is.
  std::string broken = text;
  const std::string good = "max_connections = 20";
  const auto at = broken.find("\n" + good);
  ASSERT_NE(at, std::string::npos);
  broken.replace(at + 1, good.size(), "max_connections = \"lots\"");
  const int line = line_of(broken, "max_connections = \"lots\"");
  const fs::path bad = dir_.path() / "broken.toml";
  std::ofstream(bad) << broken;
  auto r = check_config(bad);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find(fmt::format("{}:{}: key 'defaults.max_connections'", bad.string(), line)), std::string::npos)
      << r.describe();
  EXPECT_EQ(r.out, "");

  // A misspelt key in [server].
  std::string typo = text;
  typo.insert(typo.find("\n", typo.find("[server]")) + 1, "threds = 4\n");
  const fs::path bad2 = dir_.path() / "typo.toml";
  std::ofstream(bad2) << typo;
  auto t = check_config(bad2);
  EXPECT_EQ(t.exit_code, 2) << t.describe();
  EXPECT_NE(t.err.find(fmt::format("{}:{}: key 'server.threds': unknown key", bad2.string(), line_of(typo, "threds"))),
            std::string::npos)
      << t.describe();

  auto missing = check_config(dir_.path() / "nope.toml");
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
}

// The commented-out lines are documentation an operator will uncomment: each must be a key
// the loader knows, with a valid value. Uncommenting all of them (with a real DKIM key in
// place of the example's path) must still load.
TEST_F(PackagingTest, EveryCommentedOutKeyInTheExampleIsValid) {
  const fs::path dkim_dir = dir_.path() / "dkim";
  auto keygen = run_command({(prefix_ / "bin/ringpost").string(), "dkim", "keygen", "--domain", "example.com",
                             "--selector", "s2026", "--algorithm", "rsa", "--out", dkim_dir.string()});
  ASSERT_TRUE(keygen) << keygen.error();
  ASSERT_EQ(keygen->exit_code, 0) << keygen->describe();

  const std::regex commented(R"(^# (\[.*\]|[a-z_0-9]+ = .*)$)");
  std::istringstream lines(slurp(prefix_ / "etc/ringpost/ringpost.toml.example"));
  std::string all;
  int uncommented = 0;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, commented)) {
      line = m[1].str();
      ++uncommented;
      if (line.starts_with("key_file = ")) line = fmt::format("key_file = \"{}\"", (dkim_dir / "s2026.example.com.pem").string());
    }
    all += line + "\n";
  }
  EXPECT_GT(uncommented, 40) << all;
  const fs::path everything = dir_.path() / "everything.toml";
  std::ofstream(everything) << all;
  auto r = check_config(everything);
  EXPECT_EQ(r.exit_code, 0) << r.describe() << all;
  EXPECT_NE(r.out.find("1 DKIM keys, 1 API keys"), std::string::npos) << r.describe();
}

TEST_F(PackagingTest, SystemdAnalyzeVerifiesTheUnit) {
  const char* analyze = "/usr/bin/systemd-analyze";
  if (::access(analyze, X_OK) != 0) GTEST_SKIP() << analyze << " not installed";
  const fs::path unit = prefix_ / "lib/systemd/system/ringpost.service";
  auto r = run_command({analyze, "verify", unit.string()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 0) << r->describe();
  // verify also prints warnings for directives it does not know; it must not have any.
  EXPECT_EQ(r->err.find("Unknown key"), std::string::npos) << r->describe();
  EXPECT_EQ(r->err.find("ringpost.service:"), std::string::npos) << r->describe();
}

}  // namespace
}  // namespace ringpost::it
