// Base fixture for the shaping tests: scripted SMTP servers (one per destination, on 127.0.0.x),
// one ringpost, the message API and the admin API; on failure it prints ringpost's config and
// output tail and the tail of every scripted server's log. Owned by the test thread. Helpers
// ASSERT; call them under ASSERT_NO_FATAL_FAILURE.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"
#include "tests/shaping/shaping_harness.h"

namespace ringpost::shaping {

using namespace std::chrono_literals;
using it::MessageStatus;
using it::RecipientStatus;

inline constexpr const char* kToken = "secret";
inline const std::string kAdminToml = "admin_token = \"secret\"\n";

class ShapingTest : public it::ServerTest {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    if (server_)
      std::cerr << "[shaping] ringpost config:\n" << server_->toml() << "[shaping] ringpost output tail:\n"
                << server_->process().output_tail(4000) << "\n";
    for (auto& s : smtps_) {
      auto l = s.log();
      std::cerr << "[shaping] scripted server " << s.route() << " log tail:" << (l ? l->tail(12) : l.error()) << "\n";
    }
  }

  uint16_t free_port() {
    auto p = it::pick_free_port();
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : 0;
  }

  // Starts shaping_smtp.py on host:<free port> with `args`; files under <dir>/<name>.
  ShapingSmtp& start_smtp(const std::string& name, std::vector<std::string> args = {},
                          const std::string& host = "127.0.0.1") {
    uint16_t port = free_port();
    auto s = ShapingSmtp::start(dir_ / name, host, port, std::move(args));
    EXPECT_TRUE(s) << s.error();
    if (!s) throw std::runtime_error("scripted server did not start: " + s.error());
    smtps_.push_back(std::move(*s));
    return smtps_.back();
  }

  // A config with an HTTP port; tests fill domains and other keys.
  it::ServerConfig base_config() {
    it::ServerConfig cfg;
    cfg.http_port = free_port();
    cfg.retry = {"1s"};
    cfg.spool_dir = dir_ / "spool";
    return cfg;
  }

  void start_ringpost(const it::ServerConfig& cfg, const std::string& server_toml = {}) {
    auto r = ShapingServer::start(dir_.path(), cfg, server_toml);
    ASSERT_TRUE(r) << r.error();
    server_.emplace(std::move(*r));
    api_.emplace(server_->port());
    admin_.emplace(server_->port(), kToken);
  }

  std::vector<std::string> submit(const std::vector<it::OutgoingMessage>& msgs) {
    auto ids = submit_all(*api_, msgs);
    EXPECT_TRUE(ids) << ids.error();
    return ids ? *ids : std::vector<std::string>{};
  }

  std::string submit_one(std::vector<std::string> to, std::string subject) {
    auto id = api_->submit({"sender@example.test", std::move(to), std::move(subject), "shaping test body"});
    EXPECT_TRUE(id) << id.error();
    return id ? *id : std::string();
  }

  SmtpLog log_of(const ShapingSmtp& s) {
    auto l = s.log();
    EXPECT_TRUE(l) << l.error();
    return l ? *l : SmtpLog{};
  }

  // Waits (bounded) until `s` has accepted at least n messages; returns the last log read.
  SmtpLog wait_messages(const ShapingSmtp& s, std::size_t n, std::chrono::milliseconds timeout) {
    SmtpLog last;
    it::wait_until(timeout, 100ms, [&] {
      auto l = s.log();
      if (!l) return false;
      last = std::move(*l);
      return last.messages().size() >= n;
    });
    return last;
  }

  // Waits (bounded) until the monotonic clock passes t.
  static void sleep_until_mono(double t) {
    for (int i = 0; i < 100000; ++i) {
      double left = t - mono_now();
      if (left <= 0) return;
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(std::min(left, 0.5) * 1e6)));
    }
  }

  // Polls GET /v1/messages/{id} until pred or the timeout; `history` collects distinct states.
  bool poll_status(const std::string& id, std::chrono::milliseconds timeout,
                   const std::function<bool(const MessageStatus&)>& pred, MessageStatus* last, std::string* history) {
    std::string seen;
    return it::wait_until(timeout, 50ms, [&] {
      auto st = api_->status(id);
      if (!st) {
        if (history && st.error() != seen) *history += "\n    error: " + (seen = st.error());
        return false;
      }
      if (auto s = it::summarize(*st); history && s != seen) *history += "\n    " + (seen = s);
      if (last) *last = *st;
      return pred(*st);
    });
  }

  static bool is_final(const RecipientStatus& r) { return r.state != "queued" && r.state != "deferred"; }
  static bool all_final(const MessageStatus& m) {
    return !m.recipients.empty() && std::all_of(m.recipients.begin(), m.recipients.end(), is_final);
  }

  std::deque<ShapingSmtp> smtps_;
  std::optional<ShapingServer> server_;
  std::optional<it::RingpostApi> api_;
  std::optional<AdminClient> admin_;
};

// The suite of rate_test.cc and rules_test.cc (one fixture class for both files, as gtest needs).
class Shaping : public ShapingTest {};

}  // namespace ringpost::shaping
