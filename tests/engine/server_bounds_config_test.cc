// [server] connection bounds (docs/security.md "Connections"): defaults, values read, and bad
// values refused with the file, line and key.
#include <gtest/gtest.h>

#include "engine/config/config.h"

namespace ringpost::engine {
namespace {

using std::chrono::milliseconds;

std::string error_of(std::string_view toml) {
  auto cfg = load_config_string(toml, "ringpost.toml");
  EXPECT_FALSE(cfg.has_value()) << "expected an error for:\n" << toml;
  return cfg ? std::string() : cfg.error();
}

TEST(ServerBoundsConfig, Defaults) {
  auto cfg = load_config_string("", "ringpost.toml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->max_output_bytes, 1u << 20);
  EXPECT_EQ(cfg->max_connections, 10'000u);
  EXPECT_EQ(cfg->header_timeout, milliseconds(10'000));
  EXPECT_EQ(cfg->idle_timeout, milliseconds(60'000));
  EXPECT_EQ(cfg->request_timeout, milliseconds(10'000));
}

TEST(ServerBoundsConfig, ValuesAreRead) {
  auto cfg = load_config_string(
      "[server]\nmax_output_bytes = 65536\nmax_connections = 7\nheader_timeout = \"2s\"\nidle_timeout = \"5m\"\n"
      "request_timeout = \"30s\"\n",
      "ringpost.toml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->max_output_bytes, 65536u);
  EXPECT_EQ(cfg->max_connections, 7u);
  EXPECT_EQ(cfg->header_timeout, milliseconds(2'000));
  EXPECT_EQ(cfg->idle_timeout, milliseconds(300'000));
  EXPECT_EQ(cfg->request_timeout, milliseconds(30'000));  // the older key keeps its meaning
}

TEST(ServerBoundsConfig, BadValuesNameFileLineAndKey) {
  struct Case {
    const char* toml;
    const char* prefix;
  };
  for (const Case& c : {
           Case{"[server]\nthreads = 1\nmax_output_bytes = 10\n", "ringpost.toml:3: key 'server.max_output_bytes'"},
           Case{"[server]\nmax_output_bytes = \"big\"\n", "ringpost.toml:2: key 'server.max_output_bytes'"},
           Case{"[server]\nmax_connections = 0\n", "ringpost.toml:2: key 'server.max_connections'"},
           Case{"[server]\n\nmax_connections = -5\n", "ringpost.toml:3: key 'server.max_connections'"},
           Case{"[server]\nheader_timeout = \"soon\"\n", "ringpost.toml:2: key 'server.header_timeout'"},
           Case{"[server]\nheader_timeout = \"0s\"\n", "ringpost.toml:2: key 'server.header_timeout'"},
           Case{"[server]\nidle_timeout = 60\n", "ringpost.toml:2: key 'server.idle_timeout'"},
           Case{"[server]\nthreads = 1\nidle_timeout = \"0s\"\n", "ringpost.toml:3: key 'server.idle_timeout'"},
       }) {
    const std::string err = error_of(c.toml);
    EXPECT_TRUE(err.starts_with(c.prefix)) << "for:\n" << c.toml << "got: " << err;
  }
}

}  // namespace
}  // namespace ringpost::engine
