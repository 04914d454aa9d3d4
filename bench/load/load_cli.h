// `ringpost bench`: registers the subcommand's options and runs the load generator with them.
// Registered with engine/ops/subcommand_registry.h (main.cc includes no bench code); everything else lives in bench/load/.
#pragma once

#include <CLI/CLI.hpp>

#include "bench/load/load_options.h"

namespace ringpost::load {

CLI::App* add_bench_command(CLI::App& app, LoadOptions& opts);
int run_bench(const LoadOptions& opts);

}  // namespace ringpost::load
