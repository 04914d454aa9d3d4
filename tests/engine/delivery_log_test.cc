// DeliveryLog (engine/ops/delivery_log.h) over a real io_uring ring and real files: lines reach the
// file in order and whole, size rotation shifts path → path.1 → … and loses nothing within
// `keep` files, and a reopen request from another thread moves later lines to a fresh file at
// the original path (logrotate's rename + SIGUSR1). Skips when io_uring is unavailable.
#include "engine/ops/delivery_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/ring.h"

namespace ringpost::engine {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class DeliveryLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      ring_ = std::make_unique<Ring>(64);
    } catch (const std::exception& e) {
      GTEST_SKIP() << "io_uring unavailable: " << e.what();
    }
    char tmpl[] = "/tmp/ringpost-dlog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<DeliveryLog> make(uint64_t max_bytes, uint32_t keep) {
    LogConfig cfg;
    cfg.delivery_log = (dir_ / "delivery.log").string();
    cfg.delivery_log_max_bytes = max_bytes;
    cfg.delivery_log_keep = keep;
    auto log = std::make_unique<DeliveryLog>(cfg);
    auto opened = log->open();
    EXPECT_TRUE(opened) << opened.error();
    log->start(*ring_);
    return log;
  }

  // One admin line per domain, numbered so order and loss are visible.
  static void write_batch(DeliveryLog& log, int first, int count) {
    for (int i = first; i < first + count; ++i) log.admin("retry-now", "d" + std::to_string(i) + ".test", "ops", nullptr);
    log.finish();  // flushes and waits for the write
  }

  static std::vector<int> numbers(const std::vector<std::string>& lines) {
    std::vector<int> out;
    for (const auto& l : lines) {
      auto at = l.find("\"domain\":\"d");
      EXPECT_NE(at, std::string::npos) << l;
      if (at != std::string::npos) out.push_back(std::stoi(l.substr(at + 11)));
    }
    return out;
  }

  std::unique_ptr<Ring> ring_;
  fs::path dir_;
};

TEST_F(DeliveryLogTest, LinesArriveWholeAndInOrder) {
  auto log = make(0, 5);
  write_batch(*log, 0, 500);
  write_batch(*log, 500, 1);
  auto lines = lines_of(dir_ / "delivery.log");
  ASSERT_EQ(lines.size(), 501u);
  auto n = numbers(lines);
  for (int i = 0; i < 501; ++i) EXPECT_EQ(n[i], i);
  EXPECT_EQ(log->dropped_lines(), 0u);
}

TEST_F(DeliveryLogTest, AppendsToAnExistingFile) {
  { std::ofstream(dir_ / "delivery.log") << "{\"earlier\":true}\n"; }
  auto log = make(0, 5);
  write_batch(*log, 0, 2);
  auto lines = lines_of(dir_ / "delivery.log");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
}

TEST_F(DeliveryLogTest, RotatesBySizeAndKeepsEveryLineWithinKeep) {
  // Each line is ~100 bytes; 250 bytes per file holds two one-line batches.
  auto log = make(250, 10);
  for (int i = 0; i < 9; ++i) write_batch(*log, i, 1);
  ASSERT_TRUE(fs::exists(dir_ / "delivery.log.1"));
  std::vector<int> all;
  // Oldest first: the highest suffix holds the oldest lines.
  for (int k = 10; k >= 0; --k) {
    fs::path p = k ? dir_ / ("delivery.log." + std::to_string(k)) : dir_ / "delivery.log";
    if (!fs::exists(p)) continue;
    EXPECT_LE(fs::file_size(p), 250u) << p;
    auto n = numbers(lines_of(p));
    all.insert(all.end(), n.begin(), n.end());
  }
  ASSERT_EQ(all.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(all[i], i);
}

TEST_F(DeliveryLogTest, KeepsAtMostKeepRotatedFiles) {
  auto log = make(150, 2);
  for (int i = 0; i < 8; ++i) write_batch(*log, i, 1);
  EXPECT_TRUE(fs::exists(dir_ / "delivery.log.1"));
  EXPECT_TRUE(fs::exists(dir_ / "delivery.log.2"));
  EXPECT_FALSE(fs::exists(dir_ / "delivery.log.3"));
  // The newest lines survive: the current file ends with the last one written.
  auto n = numbers(lines_of(dir_ / "delivery.log"));
  ASSERT_FALSE(n.empty());
  EXPECT_EQ(n.back(), 7);
}

TEST_F(DeliveryLogTest, ReopenRequestedFromAnotherThreadStartsAFreshFile) {
  auto log = make(0, 5);
  write_batch(*log, 0, 3);
  fs::rename(dir_ / "delivery.log", dir_ / "delivery.log.old");
  std::thread([&] { log->request_reopen(); }).join();
  // The request wakes the ring: run it until the wake-up read has completed, as the front's
  // loop would, then the next flush reopens.
  EXPECT_GE(ring_->run_once(1000), 1u) << "the request did not wake the ring";
  write_batch(*log, 3, 2);
  EXPECT_EQ(numbers(lines_of(dir_ / "delivery.log.old")), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(numbers(lines_of(dir_ / "delivery.log")), (std::vector<int>{3, 4}));
}

TEST_F(DeliveryLogTest, DisabledWritesNothing) {
  LogConfig cfg;  // delivery_log empty
  DeliveryLog log(cfg);
  EXPECT_FALSE(log.enabled());
  ASSERT_TRUE(log.open());
  log.start(*ring_);
  log.admin("retry-now", "d0.test", "", nullptr);
  log.finish();
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace ringpost::engine
