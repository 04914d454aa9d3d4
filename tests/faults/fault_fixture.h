// Base fixture for fault tests: one fault_smtp.py and one ringpost per test, in the test's
// temp directory, with the script's log and ringpost's output printed when a test fails.
// Owned by the test thread. Helpers ASSERT; call them under ASSERT_NO_FATAL_FAILURE.
#pragma once

#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/faults/fault_harness.h"
#include "tests/integration/free_port.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::faults {

using namespace std::chrono_literals;

// Capabilities without CHUNKING, so the body goes with DATA unless a test says otherwise.
inline constexpr const char* kCapsPipelining = "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES";
inline constexpr const char* kSender = "sender@example.test";

class FaultTest : public it::ServerTest {
 protected:
  void SetUp() override {
    it::ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto ports = it::pick_free_ports(2);
    ASSERT_TRUE(ports) << ports.error().message();
    http_port_ = (*ports)[0];
    smtp_port_ = (*ports)[1];
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (smtp_) std::cerr << "[fault] script log (" << smtp_port_ << "):\n" << smtp_->log_text() << "\n";
    if (rp_) std::cerr << "[fault] ringpost config:\n" << rp_->toml() << "[fault] ringpost output tail:\n"
                       << rp_->process().output_tail(3000) << "\n";
  }

  // Starts the script with `args` (a --caps is added unless args has one).
  void start_smtp(std::vector<std::string> args) {
    bool has_caps = false;
    for (auto& a : args) has_caps |= a == "--caps";
    if (!has_caps) {
      args.push_back("--caps");
      args.push_back(kCapsPipelining);
    }
    auto s = FaultSmtp::start(dir_ / "smtp", smtp_port_, std::move(args));
    ASSERT_TRUE(s) << s.error();
    smtp_.emplace(std::move(*s));
  }

  // Starts ringpost routing domain_ to the script. `policy` lines go into the domain's section
  // after tls = "off" (STARTTLS is not what most of these tests are about) unless one of them
  // sets tls itself.
  void start_ringpost(std::vector<std::string> policy, std::vector<std::string> retry = {"1s"},
                      const std::function<void(it::ServerConfig&)>& tweak = {}) {
    FaultServerConfig cfg;
    cfg.base.http_port = http_port_;
    cfg.base.retry = std::move(retry);
    if (tweak) tweak(cfg.base);
    cfg.domain = domain_;
    cfg.smtp_port = smtp_port_;
    bool sets_tls = false;
    for (const auto& p : policy) sets_tls |= p.rfind("tls ", 0) == 0 || p.rfind("tls=", 0) == 0;
    if (!sets_tls) cfg.policy.push_back(R"(tls = "off")");
    for (auto& p : policy) cfg.policy.push_back(std::move(p));
    auto r = FaultRingpost::start(dir_.path(), std::move(cfg));
    ASSERT_TRUE(r) << r.error();
    rp_.emplace(std::move(*r));
    api_.emplace(http_port_);
  }

  std::string submit(std::vector<std::string> to, std::string subject = "fault test",
                     std::string text = "hello from the fault tests") {
    auto id = api_->submit({kSender, std::move(to), std::move(subject), std::move(text)});
    EXPECT_TRUE(id) << id.error();
    return id ? *id : std::string();
  }

  FaultLog script_log() {
    auto l = smtp_->log();
    EXPECT_TRUE(l) << l.error();
    return l ? *l : FaultLog{};
  }

  // Waits (bounded) until the script has logged `n` disconnects.
  bool wait_disconnects(int n, std::chrono::milliseconds timeout) {
    return it::wait_until(timeout, 50ms, [&] {
      auto l = smtp_->log();
      return l && static_cast<int>(l->of("disconnect").size()) >= n;
    });
  }

  std::string addr(std::string_view local) const { return fmt::format("{}@{}", local, domain_); }

  std::string domain_ = "fault.test";
  uint16_t http_port_ = 0, smtp_port_ = 0;
  std::optional<FaultSmtp> smtp_;
  std::optional<FaultRingpost> rp_;
  std::optional<RingpostApi> api_;
};

}  // namespace ringpost::faults
