// Common ground for the MX routing tests: a real authoritative DNS server (Knot, via
// tests/dns_support) that ringpost's [dns] section points at, SMTP far sides on 127.0.0.2,
// 127.0.0.3, ... all on one port (ringpost's mx_port), and the real `ringpost serve`.
// Results are read from the far side (what each sink received) and from /v1/messages.
// Owned by one test thread; every wait is bounded; every child is reaped by its owner.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dns_support/authoritative_dns.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"

namespace ringpost::mx_test {

using ringpost::it::MessageStatus;
using ringpost::it::RecipientStatus;
using ringpost::testing::AuthoritativeDns;
using ringpost::testing::DnsRecord;
using ringpost::testing::StopMode;

// Settings of one ringpost run; the defaults suit most tests.
struct RingpostOptions {
  int threads = 2;
  int max_connections = 20;
  int max_msgs_per_connection = 100;
  std::string defaults_toml;  // more lines for [defaults] (mx_port and tls are always set)
  std::string extra_toml;     // more tables after [dns], e.g. [domains."x.test"] without a route
  std::string min_ttl = "1s";
  std::string dns_server;     // "127.0.0.1:PORT" instead of the Knot server (e.g. CraftedDns)
  bool prefer_ipv6 = false;
};

class MxTest : public it::ServerTest {
 protected:
  void SetUp() override;

  // Makes the DNS server (not started) serving `zones`; add records, then start_dns().
  AuthoritativeDns& make_dns(std::vector<std::string> zones);
  void start_dns();
  AuthoritativeDns& dns() { return *dns_; }

  // smtp-sink on ip:mx_port(). Fails the test (fatal) if it does not start.
  it::SmtpSink& start_sink(const std::string& ip, std::vector<std::string> extra_args = {});
  it::SmtpSink& sink(const std::string& ip) { return *sinks_.at(ip); }
  int count_at(const std::string& ip) { return sinks_.count(ip) ? sinks_.at(ip)->message_count() : 0; }

  void start_ringpost(RingpostOptions opts = {});
  it::RingpostServer& server() { return *server_; }
  it::RingpostApi& api() { return *api_; }
  uint16_t mx_port() const { return mx_port_; }

  // Submits one message to `rcpt`; returns its id (fatal failure on error: use ASSERT_NO_FATAL_FAILURE).
  std::string submit(const std::string& rcpt, const std::string& subject = "mx test");
  // Polls the message until its (single) recipient is delivered, bounced or expired.
  std::optional<RecipientStatus> wait_final(const std::string& id, std::chrono::milliseconds timeout);
  // Polls until the recipient is in `state` (exact), or timeout.
  std::optional<RecipientStatus> wait_state(const std::string& id, const std::string& state,
                                            std::chrono::milliseconds timeout);
  it::Stats stats();

  // Everything useful when a test fails: sinks, ringpost log tail, knotd log tail.
  std::string diagnostics();

 private:
  uint16_t http_port_ = 0;
  uint16_t mx_port_ = 0;
  std::unique_ptr<AuthoritativeDns> dns_;
  std::map<std::string, std::unique_ptr<it::SmtpSink>> sinks_;
  std::optional<it::RingpostServer> server_;
  std::unique_ptr<it::RingpostApi> api_;
};

std::string describe(const RecipientStatus& r);

}  // namespace ringpost::mx_test
