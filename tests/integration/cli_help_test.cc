// `ringpost ... --help` is the manual: every command and sub-command, found by walking the
// "Subcommands:" lists from the top (so a new command is covered without editing this test),
// exits 0 and prints its description and an example that runs that very command.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "tests/integration/paths.h"
#include "tests/integration/run_command.h"

namespace ringpost::it {
namespace {

struct Listed {
  std::string name;
  std::string description;
};

// The entries under "Subcommands:" in CLI11's help: "  name   description" lines; deeper
// indentation continues the previous description.
std::vector<Listed> subcommands(const std::string& help) {
  std::vector<Listed> out;
  std::istringstream lines(help);
  bool in_list = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "Subcommands:") {
      in_list = true;
      continue;
    }
    if (!in_list) continue;
    if (line.empty() || line[0] != ' ') break;
    if (line.size() > 2 && line[2] != ' ') {
      std::istringstream cells(line);
      Listed l;
      cells >> l.name;
      std::getline(cells >> std::ws, l.description);
      out.push_back(std::move(l));
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& path) {
  std::istringstream in(path);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

CommandResult help(const std::string& path) {
  std::vector<std::string> argv{ringpost_binary().string()};
  for (auto& w : split(path)) argv.push_back(w);
  argv.push_back("--help");
  auto r = run_command(argv);
  EXPECT_TRUE(r) << r.error();
  return r ? *r : CommandResult{};
}

TEST(CliHelp, EveryCommandHasADescriptionAndAnExampleOfItself) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  auto top = help("");
  ASSERT_EQ(top.exit_code, 0) << top.describe();
  std::vector<std::pair<std::string, Listed>> todo;
  for (auto& l : subcommands(top.out)) todo.push_back({l.name, l});
  ASSERT_GE(todo.size(), 6u) << top.out;
  std::vector<std::string> seen;
  while (!todo.empty()) {
    auto [path, listed] = todo.back();
    todo.pop_back();
    seen.push_back(path);
    SCOPED_TRACE("ringpost " + path + " --help");
    auto h = help(path);
    ASSERT_EQ(h.exit_code, 0) << h.describe();
    EXPECT_FALSE(listed.description.empty()) << "no description in the parent's list";
    EXPECT_NE(h.out.find(listed.description), std::string::npos) << h.out;
    const auto example = h.out.find("\nExample:\n  ");
    ASSERT_NE(example, std::string::npos) << h.out;
    const std::string example_line = h.out.substr(example + 12, h.out.find('\n', example + 12) - example - 12);
    EXPECT_NE(example_line.find("ringpost " + path), std::string::npos) << example_line;
    for (auto& l : subcommands(h.out)) todo.push_back({path + " " + l.name, l});
  }
  for (const char* must : {"serve", "demo", "bench", "check-config", "ctl", "ctl status", "ctl domain show",
                           "ctl domain suspend", "ctl domain resume", "ctl domain throttle", "ctl domain retry-now",
                           "ctl message show", "ctl events tail", "dkim keygen", "key new"})
    EXPECT_NE(std::find(seen.begin(), seen.end(), must), seen.end()) << must << " was not listed by any --help";
}

TEST(CliHelp, CtlHelpDocumentsExitCodesAndEnvironment) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  auto h = help("ctl");
  ASSERT_EQ(h.exit_code, 0) << h.describe();
  for (const char* must : {"RINGPOST_URL", "RINGPOST_TOKEN", "--json", "--server", "--token", "3 the server cannot be reached"})
    EXPECT_NE(h.out.find(must), std::string::npos) << must << "\n" << h.out;
}

}  // namespace
}  // namespace ringpost::it
