// `ringpost sink`: registers the subcommand's options on the CLI and runs the sink with them.
// Registered with engine/ops/subcommand_registry.h (main.cc includes no bench code); everything else lives in bench/sink/.
#pragma once

#include <CLI/CLI.hpp>

#include "bench/sink/sink_options.h"

namespace ringpost::sink {

CLI::App* add_sink_command(CLI::App& app, SinkOptions& opts);
int run_sink(const SinkOptions& opts);

}  // namespace ringpost::sink
