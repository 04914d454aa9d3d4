// Self-tests of the integration harness, runnable without ringpost: the smtp-sink and
// scripted-server wrappers must count exactly what an independent client (python smtplib)
// sent, and HttpClient must frame responses and reuse connections as it claims. If these
// fail, the server tests' verdicts mean nothing.
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/scripted_smtp.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/temp_dir.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

// Runs send_mail.py to completion (bounded) and returns its output.
tl::expected<std::string, std::string> send_mail(const std::filesystem::path& dir, uint16_t port,
                                                 std::vector<std::string> extra) {
  std::vector<std::string> argv = {kPython3, (source_dir() / "send_mail.py").string(), "--port",
                                   std::to_string(port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  // A fresh output file per run: wait_for_line must not find an earlier run's "done".
  static int runs = 0;
  auto p = Process::spawn(argv, dir / fmt::format("send_mail-{}.out", ++runs));
  if (!p) return tl::unexpected(p.error());
  auto done = p->wait_for_line("done", 60s);
  if (!done) return tl::unexpected(done.error());
  // "done" is printed after QUIT; let the script exit so nothing is cut short.
  wait_until(10s, 10ms, [&] { return !p->running(); });
  return p->output();
}

TEST(Harness, SmtpSinkCountsMessagesAndSessionsFromFarSide) {
  TempDir dir;
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto sink = SmtpSink::start(dir / "sink", *port);
  ASSERT_TRUE(sink) << sink.error();
  EXPECT_EQ(established_connections_to(*port), 0);

  constexpr int kSessions = 7, kPer = 30;
  auto out = send_mail(dir.path(), *port, {"--sessions", "7", "--per-session", "30"});
  ASSERT_TRUE(out) << out.error();

  // Sessions are counted when they end; the client has sent QUIT, the sink may lag a little.
  ASSERT_TRUE(wait_until(10s, 20ms, [&] { return sink->counters().sessions == kSessions; })) << sink->describe();
  auto c = sink->counters();
  EXPECT_EQ(c.messages, kSessions * kPer);
  EXPECT_EQ(c.quits, kSessions);

  auto msgs = sink->messages();
  ASSERT_EQ(msgs.size(), std::size_t(kSessions * kPer));
  std::set<std::string> rcpts;
  for (const auto& m : msgs) {
    ASSERT_EQ(m.rcpts.size(), 1u);
    rcpts.insert(m.rcpts[0]);
    // The content follows the envelope: rcpt<k> got "Subject: msg <k>".
    auto k = m.rcpts[0].substr(4, m.rcpts[0].find('@') - 4);
    EXPECT_NE(m.content.find(fmt::format("Subject: msg {}\n", k)), std::string::npos) << m.content;
    EXPECT_EQ(bare_address(m.mail_from), "sender@harness.test");
    EXPECT_EQ(m.helo, "harness.test");
  }
  EXPECT_EQ(rcpts.size(), std::size_t(kSessions * kPer));
  EXPECT_TRUE(rcpts.count("rcpt0@sink.test") && rcpts.count("rcpt209@sink.test"));
}

TEST(Harness, SmtpSinkCountsMultiRecipientTransactionsOnce) {
  TempDir dir;
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto sink = SmtpSink::start(dir / "sink", *port);
  ASSERT_TRUE(sink) << sink.error();
  auto out = send_mail(dir.path(), *port, {"--per-session", "3", "--extra-rcpts", "2"});
  ASSERT_TRUE(out) << out.error();
  ASSERT_TRUE(wait_until(10s, 20ms, [&] { return sink->counters().sessions == 1; })) << sink->describe();
  auto msgs = sink->messages();
  ASSERT_EQ(msgs.size(), 3u);
  for (const auto& m : msgs) EXPECT_EQ(m.rcpts.size(), 3u);
}

TEST(Harness, ScriptedSmtpTempfailsFirstAttemptPerRecipientThenAccepts) {
  TempDir dir;
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto srv = ScriptedSmtp::start(dir / "scripted", *port, {"tempfail-first", "1"});
  ASSERT_TRUE(srv) << srv.error();
  // Two sessions, same recipient set (k restarts at 0 in each run).
  for (int run = 0; run < 2; ++run) {
    auto out = send_mail(dir.path(), *port, {"--extra-rcpts", "1", "--domain", "retry.test"});
    ASSERT_TRUE(out) << out.error();
    if (run == 0) EXPECT_NE(out->find("\"rcpt0@retry.test\": [451, \"4.7.1"), std::string::npos) << *out;
    else EXPECT_NE(out->find("\"refused\": {}"), std::string::npos) << *out;
  }
  ScriptedLog log;
  ASSERT_TRUE(wait_until(10s, 20ms, [&] {
    auto l = srv->log();
    if (l) log = *l;
    return l && log.disconnects == 2;
  }));
  EXPECT_EQ(log.connects, 2);
  EXPECT_EQ(log.rcpt_attempts("rcpt0@retry.test"), 2);
  EXPECT_EQ(log.rcpt_attempts("rcpt0-0@retry.test"), 2);
  ASSERT_EQ(log.messages.size(), 1u);
  EXPECT_EQ(log.messages[0].rcpt_tos, (std::vector<std::string>{"rcpt0@retry.test", "rcpt0-0@retry.test"}));
  EXPECT_EQ(log.messages[0].subject, "msg 0");
}

TEST(Harness, ScriptedSmtpRejectsWith550_511) {
  TempDir dir;
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto srv = ScriptedSmtp::start(dir / "scripted", *port, {"reject"});
  ASSERT_TRUE(srv) << srv.error();
  auto out = send_mail(dir.path(), *port, {"--domain", "bounce.test"});
  ASSERT_TRUE(out) << out.error();
  EXPECT_NE(out->find("\"rcpt0@bounce.test\": [550, \"5.1.1"), std::string::npos) << *out;
  auto log = srv->log();
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(log->rcpt_attempts("rcpt0@bounce.test"), 1);
  EXPECT_TRUE(log->messages.empty());
}

TEST(Harness, HttpClientKeepsAliveAndFramesBodies) {
  TempDir dir;
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto fx = Process::spawn({kPython3, (source_dir() / "http_fixture.py").string(), "--port", std::to_string(*port)},
                           dir / "http_fixture.out");
  ASSERT_TRUE(fx) << fx.error();
  ASSERT_TRUE(fx->wait_for_line("ready", 15s));

  HttpClient http(*port, 5s);
  for (int i = 0; i < 200; ++i) {
    auto r = http.get("/len");
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->body, "len-body");
  }
  auto chunked = http.get("/chunked");
  ASSERT_TRUE(chunked) << chunked.error();
  EXPECT_EQ(chunked->body, "chunked-body");
  std::string big(3 << 20, 'x');
  auto echo = http.post_json("/echo", big);
  ASSERT_TRUE(echo) << echo.error();
  EXPECT_EQ(echo->body.size(), big.size());
  EXPECT_EQ(http.connections_opened(), 1);

  auto bye = http.get("/close");
  ASSERT_TRUE(bye) << bye.error();
  EXPECT_TRUE(bye->server_closes);
  auto again = http.get("/conn");
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(http.connections_opened(), 2);
  EXPECT_EQ(again->body, "2");

  // A server that answers 413 before reading an 11 MiB body and closes: the client must
  // still report the 413 rather than the broken pipe it hits while sending.
  HttpClient limit(*port, 5s);
  auto r413 = limit.request("POST", "/limit", std::string(11 << 20, 'y'), "application/json");
  ASSERT_TRUE(r413) << r413.error();
  EXPECT_EQ(r413->status, 413);
}

}  // namespace
}  // namespace ringpost::it
