// See mx_fixture.h.
#include "tests/mx/mx_fixture.h"

#include <cstdlib>

#include <fmt/format.h>

#include "tests/integration/free_port.h"
#include "tests/integration/wait.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0' && std::string(ci) != "false" && std::string(ci) != "0";
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

std::string describe(const RecipientStatus& r) {
  std::string reply = r.last_reply ? fmt::format("{} {} {}", r.last_reply->code, r.last_reply->enhanced, r.last_reply->text)
                                   : std::string("(no reply)");
  return fmt::format("{}: {} after {} attempt(s), last reply: {}", r.address, r.state, r.attempts, reply);
}

void MxTest::SetUp() {
  it::ServerTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  // Same policy as tests/dns_support: a developer without knot gets a skip with the reason;
  // CI installs it, so there a missing knot is a failure, not a silent skip.
  if (auto why = AuthoritativeDns::unavailable_reason()) {
    if (in_ci()) FAIL() << "knotd cannot run in CI: " << *why;
    GTEST_SKIP() << "knotd cannot run: " << *why;
  }
  if (!std::filesystem::exists("/usr/sbin/smtp-sink")) GTEST_SKIP() << "no /usr/sbin/smtp-sink (package postfix)";
  auto ports = it::pick_free_ports(2);
  ASSERT_TRUE(ports) << ports.error().message();
  http_port_ = (*ports)[0];
  // Picked on 127.0.0.1; nothing on this box binds other loopback addresses, so the same
  // port is free on 127.0.0.2, 127.0.0.3, ... as well (start_sink would say otherwise).
  mx_port_ = (*ports)[1];
}

AuthoritativeDns& MxTest::make_dns(std::vector<std::string> zones) {
  dns_ = std::make_unique<AuthoritativeDns>(ringpost::testing::AuthoritativeDnsOptions{.zones = std::move(zones)});
  return *dns_;
}

void MxTest::start_dns() {
  auto ok = dns_->start();
  ASSERT_TRUE(ok) << ok.error();
}

it::SmtpSink& MxTest::start_sink(const std::string& ip, std::vector<std::string> extra_args) {
  auto s = it::SmtpSink::start(dir_ / fmt::format("sink-{}", ip), mx_port_, std::move(extra_args), ip);
  if (!s) {
    ADD_FAILURE() << "smtp-sink on " << ip << ":" << mx_port_ << ": " << s.error();
    throw std::runtime_error("smtp-sink did not start");  // nothing sensible to return
  }
  auto& slot = sinks_[ip];
  slot = std::make_unique<it::SmtpSink>(std::move(*s));
  return *slot;
}

void MxTest::start_ringpost(RingpostOptions opts) {
  it::ServerConfig cfg;
  cfg.http_port = http_port_;
  cfg.threads = opts.threads;
  cfg.max_connections = opts.max_connections;
  cfg.max_msgs_per_connection = opts.max_msgs_per_connection;
  cfg.retry = {"1s"};
  cfg.connect_timeout = "2s";
  cfg.defaults_toml = fmt::format("mx_port = {}\ntls = \"off\"\n", mx_port_) + opts.defaults_toml;
  std::string server = !opts.dns_server.empty() ? opts.dns_server : dns_ ? dns_->server_spec() : "";
  std::string servers = server.empty() ? "" : fmt::format("servers = [\"{}\"]\n", server);
  cfg.extra_toml = fmt::format(
                       "[dns]\n{}timeout = \"500ms\"\nattempts = 2\nmin_ttl = \"{}\"\nmax_ttl = \"1h\"\n"
                       "negative_ttl = \"30s\"\nprefer_ipv6 = {}\n",
                       servers, opts.min_ttl, opts.prefer_ipv6) +
                   opts.extra_toml;
  auto s = it::RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(s) << s.error();
  server_.emplace(std::move(*s));
  api_ = std::make_unique<it::RingpostApi>(server_->port());
}

std::string MxTest::submit(const std::string& rcpt, const std::string& subject) {
  auto id = api_->submit({"sender@example.test", {rcpt}, subject, "body of " + subject});
  EXPECT_TRUE(id) << "submit to " << rcpt << ": " << (id ? "" : id.error());
  return id ? *id : std::string();
}

std::optional<RecipientStatus> MxTest::wait_state(const std::string& id, const std::string& state,
                                                  std::chrono::milliseconds timeout) {
  std::optional<RecipientStatus> last;
  bool ok = it::wait_until(timeout, 50ms, [&] {
    auto st = api_->status(id);
    if (!st || st->recipients.empty()) return false;
    last = st->recipients.front();
    return last->state == state;
  });
  if (!ok) return std::nullopt;
  return last;
}

std::optional<RecipientStatus> MxTest::wait_final(const std::string& id, std::chrono::milliseconds timeout) {
  std::optional<RecipientStatus> last;
  bool ok = it::wait_until(timeout, 50ms, [&] {
    auto st = api_->status(id);
    if (!st || st->recipients.empty()) return false;
    last = st->recipients.front();
    return last->state == "delivered" || last->state == "bounced" || last->state == "expired";
  });
  if (!ok) {
    ADD_FAILURE() << "message " << id << " not final after " << timeout.count() << " ms; last: "
                  << (last ? describe(*last) : std::string("no status"));
    return std::nullopt;
  }
  return last;
}

it::Stats MxTest::stats() {
  auto s = api_->stats();
  EXPECT_TRUE(s) << (s ? "" : s.error());
  return s ? *s : it::Stats{};
}

std::string MxTest::diagnostics() {
  std::string out;
  for (auto& [ip, s] : sinks_) out += s->describe() + "\n";
  if (server_) out += "ringpost log tail:\n" + server_->process().output_tail(3000) + "\n";
  if (dns_) out += "knotd log tail:\n" + tail(dns_->log(), 1500) + "\n";
  return out;
}

}  // namespace ringpost::mx_test
