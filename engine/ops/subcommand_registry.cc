// See subcommand_registry.h.
#include "engine/ops/subcommand_registry.h"

namespace ringpost::engine {
namespace {

// A function-local static: registrants run during static initialization, in an order across
// translation units that nothing fixes, so the list must exist before the first of them.
std::vector<ExternalCommand>& commands() {
  static std::vector<ExternalCommand> list;
  return list;
}

}  // namespace

bool register_command(ExternalCommand command) {
  commands().push_back(std::move(command));
  return true;
}

const std::vector<ExternalCommand>& registered_commands() { return commands(); }

}  // namespace ringpost::engine
