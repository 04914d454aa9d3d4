// `ringpost check-config FILE`: loads a config exactly as `serve` and SIGHUP do and says OK or
// names the file, line and key that is wrong. Exit 0 or 2, so packaging and deploy scripts can
// gate a restart on it.
#pragma once

#include <string>

namespace ringpost::engine {

int run_check_config(const std::string& path);

}  // namespace ringpost::engine
