// See check_config.h.
#include "engine/ops/check_config.h"

#include <cstdio>

#include <fmt/format.h>

#include "engine/config/config.h"

namespace ringpost::engine {

int run_check_config(const std::string& path) {
  auto cfg = load_config_file(path);
  if (!cfg) {
    fmt::print(stderr, "config error: {}\n", cfg.error());
    return 2;
  }
  fmt::print("{}: OK ({} shards, listening on {}, spool {}, {} domain sections, {} DKIM keys, {} API keys)\n", path,
             cfg->shard_count(), cfg->http_listen, cfg->spool_dir, cfg->domains.size(), cfg->dkim.size(),
             cfg->keys.size());
  return 0;
}

}  // namespace ringpost::engine
