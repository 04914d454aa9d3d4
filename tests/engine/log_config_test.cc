// [log] in the config file (docs/delivery-log.md): defaults, values, and errors that name the
// file, line and key.
#include <gtest/gtest.h>

#include "engine/config/config.h"

namespace ringpost::engine {
namespace {

TEST(LogConfig, DefaultsLeaveTheDeliveryLogOff) {
  auto cfg = load_config_string("", "t.toml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->log.level, "info");
  EXPECT_TRUE(cfg->log.delivery_log.empty());
  EXPECT_EQ(cfg->log.delivery_log_keep, 5u);
}

TEST(LogConfig, ReadsEveryKey) {
  auto cfg = load_config_string(R"([log]
level = "debug"
delivery_log = "/var/log/ringpost/delivery.log"
delivery_log_max_bytes = 1048576
delivery_log_keep = 9
)",
                                "t.toml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_EQ(cfg->log.delivery_log, "/var/log/ringpost/delivery.log");
  EXPECT_EQ(cfg->log.delivery_log_max_bytes, 1048576u);
  EXPECT_EQ(cfg->log.delivery_log_keep, 9u);
}

TEST(LogConfig, RelativeDeliveryLogIsBesideTheConfigFile) {
  auto cfg = load_config_string("[log]\ndelivery_log = \"logs/delivery.log\"\n", "/etc/ringpost/ringpost.toml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->log.delivery_log, "/etc/ringpost/logs/delivery.log");
}

TEST(LogConfig, ErrorsNameFileLineAndKey) {
  auto bad_level = load_config_string("[log]\n\nlevel = \"loud\"\n", "t.toml");
  ASSERT_FALSE(bad_level);
  EXPECT_NE(bad_level.error().find("t.toml:3: key 'log.level'"), std::string::npos) << bad_level.error();

  auto unknown = load_config_string("[log]\ndelivery_logg = \"x\"\n", "t.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("t.toml:2: key 'log.delivery_logg': unknown key"), std::string::npos)
      << unknown.error();

  auto keep = load_config_string("[log]\ndelivery_log_keep = 0\n", "t.toml");
  ASSERT_FALSE(keep);
  EXPECT_NE(keep.error().find("key 'log.delivery_log_keep'"), std::string::npos) << keep.error();

  auto not_table = load_config_string("log = 3\n", "t.toml");
  ASSERT_FALSE(not_table);
  EXPECT_NE(not_table.error().find("key 'log'"), std::string::npos) << not_table.error();
}

}  // namespace
}  // namespace ringpost::engine
