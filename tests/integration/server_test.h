// Common base for tests that run the ringpost server: a private temp directory, and a skip
// (not a failure) when the build had no `ringpost` target to test.
#pragma once

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/integration/paths.h"
#include "tests/integration/temp_dir.h"

namespace ringpost::it {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ringpost_binary().empty())
      GTEST_SKIP() << "no `ringpost` target at configure time; re-run cmake once engine/ defines it";
    ASSERT_TRUE(std::filesystem::exists(ringpost_binary())) << ringpost_binary() << " was not built";
    ASSERT_FALSE(dir_.path().empty());
  }

  TempDir dir_;
};

}  // namespace ringpost::it
