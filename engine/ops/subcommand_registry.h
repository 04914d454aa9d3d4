// Subcommands that live outside engine/ (the benchmark tools of bench/sink and bench/load) add
// themselves to the `ringpost` command line through this registry, so main.cc includes no bench
// code and the server's sources do not depend on the benchmarks. A registrant is a static object
// in its own library, linked whole into the ringpost binary (engine/CMakeLists.txt).
#pragma once

#include <functional>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace ringpost::engine {

struct ExternalCommand {
  // Adds the subcommand (options, help footer) to `app` and returns it, with the function main
  // calls when it was chosen; that function owns the parsed options.
  std::function<CLI::App*(CLI::App& app, std::function<int()>& run)> add;
  // It runs an io_uring loop: main checks the kernel's io_uring features first.
  bool runs_a_ring = false;
};

// Returns a value only so a registrant can call it from a namespace-scope initializer.
bool register_command(ExternalCommand command);
const std::vector<ExternalCommand>& registered_commands();

}  // namespace ringpost::engine
