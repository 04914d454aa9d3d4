// `ringpost ctl` as an operator runs it: the real binary, one child process per command,
// against a real server delivering to Postfix smtp-sink. Outputs are checked as text (what a
// person reads) and as --json (parsed), and against the far side (what the sink received).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/run_command.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "ctl-test-admin-token";

class CtlTest : public SinkServerTest {
 protected:
  void start() {
    ServerConfig cfg;
    cfg.server_toml = fmt::format("admin_token = \"{}\"\n", kToken);
    start_with_sink(cfg);
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", server->port()); }

  CommandResult ctl(std::vector<std::string> args, std::string token = kToken) {
    std::vector<std::string> argv{ringpost_binary().string(), "ctl", "--server", url(), "--token", token};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : CommandResult{};
  }

  // The admin API's view of a domain's queue, to wait on before asserting on ctl's output.
  int64_t queued(const std::string& domain) {
    HttpClient http(server->port());
    http.set_header("Authorization", fmt::format("Bearer {}", kToken));
    auto r = http.get("/v1/domains/" + domain);
    simdjson::dom::parser p;
    int64_t n = -1;
    if (r && r->status == 200 && p.parse(r->body)["queued"].get(n) == simdjson::SUCCESS) return n;
    return -1;
  }
};

// The whitespace-separated cells of the first line of `text` that starts with `first`.
std::vector<std::string> row(const std::string& text, const std::string& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(first + " ")) continue;
    std::istringstream cells(line);
    std::vector<std::string> out;
    for (std::string c; cells >> c;) out.push_back(c);
    return out;
  }
  return {};
}

TEST_F(CtlTest, SuspendQueuesResumeDeliversAndEveryViewAgrees) {
  ASSERT_NO_FATAL_FAILURE(start());

  auto suspended = ctl({"domain", "suspend", "sink.test", "--for", "10m", "--reason", "ctl test"});
  ASSERT_EQ(suspended.exit_code, 0) << suspended.describe();
  EXPECT_NE(suspended.out.find("sink.test: suspended"), std::string::npos) << suspended.describe();
  auto shown = ctl({"domain", "show", "sink.test"});
  ASSERT_EQ(shown.exit_code, 0) << shown.describe();
  EXPECT_NE(row(shown.out, "state").size(), 0u) << shown.describe();
  EXPECT_NE(shown.out.find("suspended until"), std::string::npos) << shown.describe();

  RingpostApi api(server->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = api.submit({"agent@example.test", {fmt::format("rcpt{}@sink.test", i)}, "ctl", "hello"});
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
  }
  // The shard reports the holds right after queueing them: wait for the front to show both.
  ASSERT_TRUE(wait_until(20s, 50ms, [&] {
    auto st = api.stats();
    return queued("sink.test") == 3 && st && st->deferred == 3;
  })) << queued("sink.test");

  auto status = ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.describe();
  auto cells = row(status.out, "sink.test");
  ASSERT_GE(cells.size(), 3u) << status.describe();
  EXPECT_EQ(cells[1], "3") << status.describe();  // QUEUED
  EXPECT_EQ(cells[2], "0") << status.describe();  // IN FLIGHT
  EXPECT_NE(status.out.find("suspended until"), std::string::npos) << status.describe();
  // Held by the suspension: shown deferred (with the reason and when it ends), not a bare
  // queued (issue 20); the domain still counts them as waiting (QUEUED above).
  EXPECT_NE(status.out.find("recipients: queued 0, deferred 3, delivered 0"), std::string::npos) << status.describe();

  auto status_json = ctl({"status", "--json"});
  ASSERT_EQ(status_json.exit_code, 0) << status_json.describe();
  {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    ASSERT_EQ(p.parse(status_json.out).get(root), simdjson::SUCCESS) << status_json.describe();
    std::string_view first;
    int64_t q = -1, stats_deferred = -1;
    ASSERT_EQ(root["domains"].at(0)["domain"].get(first), simdjson::SUCCESS) << status_json.out;
    EXPECT_EQ(first, "sink.test");
    ASSERT_EQ(root["domains"].at(0)["queued"].get(q), simdjson::SUCCESS);
    EXPECT_EQ(q, 3);
    ASSERT_EQ(root["stats"]["recipients"]["deferred"].get(stats_deferred), simdjson::SUCCESS);
    EXPECT_EQ(stats_deferred, 3);
  }
  EXPECT_EQ(sink->message_count(), 0) << "a suspended domain received mail";

  auto resumed = ctl({"domain", "resume", "sink.test"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.describe();
  EXPECT_EQ(resumed.out.find("suspended until"), std::string::npos) << resumed.describe();
  ASSERT_TRUE(wait_until(30s, 50ms, [&] { return sink->message_count() >= 3; })) << sink->describe();
  auto after = ctl({"domain", "show", "sink.test"});
  ASSERT_EQ(after.exit_code, 0) << after.describe();
  EXPECT_EQ(after.out.find("suspended"), std::string::npos) << after.describe();
  auto state = row(after.out, "state");
  ASSERT_EQ(state.size(), 2u) << after.describe();
  EXPECT_EQ(state[1], "active");

  // The sink has it; the status store follows within an event's trip to the front.
  HttpClient http(server->port());
  ASSERT_TRUE(wait_until(20s, 50ms, [&] {
    auto s = api.status(ids[0]);
    return s && !s->recipients.empty() && s->recipients[0].state == "delivered";
  }));
  auto message = ctl({"message", "show", ids[0]});
  ASSERT_EQ(message.exit_code, 0) << message.describe();
  auto rcpt = row(message.out, "rcpt0@sink.test");
  ASSERT_GE(rcpt.size(), 4u) << message.describe();
  EXPECT_EQ(rcpt[1], "delivered");
  EXPECT_EQ(rcpt[2], "1");  // attempts
  EXPECT_NE(message.out.find(" 250 "), std::string::npos) << message.describe();
  EXPECT_NE(message.out.find(ids[0]), std::string::npos);

  auto message_json = ctl({"--json", "message", "show", ids[0]});
  ASSERT_EQ(message_json.exit_code, 0) << message_json.describe();
  {
    simdjson::dom::parser p;
    simdjson::dom::element r;
    ASSERT_EQ(p.parse(message_json.out)["recipients"].at(0).get(r), simdjson::SUCCESS) << message_json.out;
    std::string_view st;
    int64_t code = 0;
    ASSERT_EQ(r["state"].get(st), simdjson::SUCCESS);
    EXPECT_EQ(st, "delivered");
    ASSERT_EQ(r["last_reply"]["code"].get(code), simdjson::SUCCESS);
    EXPECT_EQ(code, 250);
  }

  auto events = ctl({"events", "tail", "--limit", "100"});
  ASSERT_EQ(events.exit_code, 0) << events.describe();
  bool saw_delivered = false;
  std::istringstream lines(events.out);
  for (std::string line; std::getline(lines, line);)
    saw_delivered |= line.find("delivered") != std::string::npos && line.find(ids[0]) != std::string::npos &&
                     line.find("250") != std::string::npos;
  EXPECT_TRUE(saw_delivered) << events.describe();
  EXPECT_NE(events.err.find("next cursor: "), std::string::npos) << events.describe();

  // --json through python's parser: the contract is "valid JSON", not "what simdjson accepts".
  auto events_json = ctl({"events", "tail", "--json"});
  ASSERT_EQ(events_json.exit_code, 0) << events_json.describe();
  const auto py = dir_.path() / "events.json";
  {
    std::ofstream(py) << events_json.out;
  }
  auto check = run_command({kPython3, "-c",
                            "import json,sys; d=json.load(open(sys.argv[1])); "
                            "print(sum(1 for e in d['events'] if e['type']=='delivered' and e['message_id']==sys.argv[2]"
                            " and e['reply']['code']==250), d['next_cursor'] != '')",
                            py.string(), ids[0]});
  ASSERT_TRUE(check);
  EXPECT_EQ(check->out, "1 True\n") << check->describe() << events_json.out;

  auto totals = ctl({"status"});
  ASSERT_EQ(totals.exit_code, 0) << totals.describe();
  EXPECT_NE(totals.out.find("delivered 3"), std::string::npos) << totals.describe();
}

TEST_F(CtlTest, ThrottleShowsTheNewRateAndRetryNowAnswers) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto set = ctl({"domain", "throttle", "sink.test", "5"});
  ASSERT_EQ(set.exit_code, 0) << set.describe();
  auto rate = row(set.out, "limits.msgs_per_second");
  ASSERT_EQ(rate.size(), 2u) << set.describe();
  EXPECT_EQ(rate[1], "5");

  auto json = ctl({"domain", "show", "sink.test", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.describe();
  simdjson::dom::parser p;
  double r = 0;
  ASSERT_EQ(p.parse(json.out)["limits"]["msgs_per_second"].get(r), simdjson::SUCCESS) << json.out;
  EXPECT_EQ(r, 5.0);

  auto per_minute = ctl({"domain", "throttle", "sink.test", "120/min"});
  ASSERT_EQ(per_minute.exit_code, 0) << per_minute.describe();
  EXPECT_EQ(row(per_minute.out, "limits.msgs_per_second"), (std::vector<std::string>{"limits.msgs_per_second", "2"}))
      << per_minute.describe();

  auto back = ctl({"domain", "throttle", "sink.test", "config"});
  ASSERT_EQ(back.exit_code, 0) << back.describe();
  EXPECT_EQ(row(back.out, "limits.msgs_per_second"),
            (std::vector<std::string>{"limits.msgs_per_second", "unlimited"}))
      << back.describe();

  auto bad = ctl({"domain", "throttle", "sink.test", "fast"});
  EXPECT_EQ(bad.exit_code, 1) << bad.describe();
  EXPECT_NE(bad.err.find("msgs_per_second"), std::string::npos) << bad.describe();

  // Nothing deferred: the server answers 409 nothing_to_retry (an admin action that does
  // nothing is never a 200), and ctl says so and exits 1.
  auto retry = ctl({"domain", "retry-now", "sink.test"});
  EXPECT_EQ(retry.exit_code, 1) << retry.describe();
  EXPECT_NE(retry.err.find("no recipient waiting for a retry"), std::string::npos) << retry.describe();
}

TEST_F(CtlTest, EventsFollowPrintsNewEventsAsTheyHappen) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto follow = Process::spawn({ringpost_binary().string(), "ctl", "--server", url(), "--token", kToken, "events",
                                "tail", "--follow"},
                               dir_.path() / "follow.log");
  ASSERT_TRUE(follow) << follow.error();
  RingpostApi api(server->port());
  auto id = api.submit({"agent@example.test", {"late@sink.test"}, "ctl", "hello"});
  ASSERT_TRUE(id) << id.error();
  auto line = follow->wait_for_line(*id + "  late@sink.test  attempt 1  250", 30s);
  ASSERT_TRUE(line) << line.error();
  EXPECT_NE(line->find("delivered"), std::string::npos) << *line;
  EXPECT_TRUE(follow->running()) << "--follow exited: " << follow->describe_exit();
}

TEST_F(CtlTest, WrongTokenExitsOneWithTheServersMessage) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto r = ctl({"status"}, "not-the-token");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("missing or wrong admin token"), std::string::npos) << r.describe();
  EXPECT_EQ(r.out, "");
  auto missing = ctl({"message", "show", "01NOSUCHMESSAGE"});
  EXPECT_EQ(missing.exit_code, 1) << missing.describe();
  EXPECT_NE(missing.err.find("no message with id '01NOSUCHMESSAGE'"), std::string::npos) << missing.describe();
}

// With [[keys]] configured every /v1/ call needs a key; the admin token counts as an admin
// key, so ctl's one token still reads stats and messages (docs/api.md "Keys").
TEST_F(CtlTest, AdminTokenWorksWhereApiKeysAreRequired) {
  ServerConfig cfg;
  cfg.server_toml = fmt::format("admin_token = \"{}\"\n", kToken);
  // sha256("ctl-test-submit-key")
  cfg.extra_toml =
      "[[keys]]\nname = \"agent\"\nsha256 = \"a358bdacbf91c5fefe13316f6e446350187814e36f7b2ff163d06a04b2be0504\"\n";
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  RingpostApi api(server->port());
  api.http().set_header("Authorization", "Bearer ctl-test-submit-key");
  auto id = api.submit({"agent@example.test", {"k@sink.test"}, "ctl", "hello"});
  ASSERT_TRUE(id) << id.error();

  auto status = ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_NE(status.out.find("messages 1;"), std::string::npos) << status.describe();
  auto message = ctl({"message", "show", *id});
  EXPECT_EQ(message.exit_code, 0) << message.describe();
  EXPECT_NE(message.out.find("k@sink.test"), std::string::npos) << message.describe();
  // A submit key is not an admin: the admin API refuses it by name.
  auto refused = ctl({"status"}, "ctl-test-submit-key");
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("role submit"), std::string::npos) << refused.describe();
}

TEST(CtlCommand, UnreachableServerExitsThree) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  auto r = run_command({ringpost_binary().string(), "ctl", "--server", fmt::format("http://127.0.0.1:{}", *port),
                        "status"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3) << r->describe();
  EXPECT_NE(r->err.find("cannot reach ringpost"), std::string::npos) << r->describe();
}

TEST(CtlCommand, ServerAndTokenComeFromTheEnvironment) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  auto port = pick_free_port();
  ASSERT_TRUE(port);
  CommandOptions o;
  o.env = {fmt::format("RINGPOST_URL=http://127.0.0.1:{}", *port)};
  auto r = run_command({ringpost_binary().string(), "ctl", "status"}, o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3) << r->describe();
  EXPECT_NE(r->err.find(fmt::format("127.0.0.1:{}", *port)), std::string::npos) << r->describe();
}

TEST(CtlCommand, UsageErrorsExitTwo) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  for (std::vector<std::string> args : {std::vector<std::string>{"ctl", "domain", "throttle", "x.test"},
                                        {"ctl", "frobnicate"},
                                        {"ctl", "--server", "ftp://127.0.0.1:1", "status"},
                                        {"ctl", "events", "tail", "--limit", "0"}}) {
    args.insert(args.begin(), ringpost_binary().string());
    auto r = run_command(args);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << "\n" << r->describe();
  }
}

}  // namespace
}  // namespace ringpost::it
