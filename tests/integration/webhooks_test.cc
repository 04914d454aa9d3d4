// Signed webhooks against a real receiver (a Python HTTP server that checks the HMAC with its
// own code): delivered and bounced events arrive signed, the receiver's 500 makes ringpost send
// the same batch again, and with API keys configured the dispatcher still reads the feed.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/scripted_smtp.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/spool_files.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

struct Post {
  std::string id;
  bool valid = false;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> events;  // (message_id, type)
};

std::vector<Post> read_posts(const std::filesystem::path& log) {
  std::vector<Post> out;
  std::ifstream in(log);
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e;
    if (parser.parse(line).get(e)) continue;
    Post p;
    int64_t status = 0;
    std::string_view id;
    if (e["valid"].get(p.valid) || e["status"].get(status) || e["id"].get(id)) continue;  // a malformed line
    p.id = std::string(id);
    p.status = static_cast<int>(status);
    simdjson::dom::array events;
    if (!e["body"]["events"].get(events))
      for (simdjson::dom::element ev : events) {
        std::string_view id, type;
        if (!ev["message_id"].get(id) && !ev["type"].get(type)) p.events.emplace_back(std::string(id), std::string(type));
      }
    out.push_back(std::move(p));
  }
  return out;
}

class Webhooks : public ServerTest {};

TEST_F(Webhooks, SignedEventsArriveAndAFailedPostIsRetried) {
  auto ports = pick_free_ports(4);
  ASSERT_TRUE(ports);
  // Standard Webhooks secret: "whsec_" + base64 of the key ("ringpost-webhook-test-key-0123").
  const std::string secret = "whsec_cmluZ3Bvc3Qtd2ViaG9vay10ZXN0LWtleS0wMTIz";
  const auto log = dir_.path() / "webhook.jsonl";
  auto receiver = Process::spawn({"/usr/bin/python3", (source_dir() / "webhook_receiver.py").string(),
                                  std::to_string((*ports)[1]), secret, log.string(), "1"},
                                 dir_.path() / "receiver.log");
  ASSERT_TRUE(receiver) << receiver.error();
  ASSERT_TRUE(receiver->wait_for_line("listening", 10s));
  auto sink = SmtpSink::start(dir_.path() / "sink", (*ports)[2]);
  ASSERT_TRUE(sink) << sink.error();
  auto reject = ScriptedSmtp::start(dir_.path() / "scripted", (*ports)[3], {"reject"});
  ASSERT_TRUE(reject) << reject.error();

  // A key makes the API closed: the dispatcher must get in with its internal token.
  const std::string token = "rp_webhook_test_token_0123456789";
  std::ofstream(dir_.path() / "token") << token;
  auto sum = Process::spawn({"/usr/bin/sha256sum", (dir_.path() / "token").string()}, dir_.path() / "sha.out");
  ASSERT_TRUE(sum);
  ASSERT_TRUE(wait_until(10s, 10ms, [&] { return !sum->running(); }));
  const std::string token_sha = sum->output().substr(0, 64);

  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink->port())},
                 {"bounce.test", fmt::format("127.0.0.1:{}", reject->port())}};
  cfg.extra_toml = fmt::format(
      "[[keys]]\nname = \"agent\"\nsha256 = \"{}\"\n\n[[webhooks]]\nname = \"crm\"\n"
      "url = \"http://127.0.0.1:{}/hooks/ringpost\"\nsecret = \"{}\"\nevents = [\"delivered\", \"bounced\"]\n",
      token_sha, (*ports)[1], secret);
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  HttpClient http(server->port());
  auto anon = http.post_json("/v1/messages", to_json({"a@example.test", {"x@sink.test"}, "s", "t"}));
  ASSERT_TRUE(anon);
  ASSERT_EQ(anon->status, 401) << "keys are configured: the API must be closed to strangers";
  http.set_header("Authorization", "Bearer " + token);
  auto ok = http.post_json("/v1/messages", to_json({"a@example.test", {"x@sink.test"}, "s", "t"}));
  auto no = http.post_json("/v1/messages", to_json({"a@example.test", {"nobody@bounce.test"}, "s", "t"}));
  ASSERT_TRUE(ok && no);
  ASSERT_EQ(ok->status, 202) << ok->body;
  ASSERT_EQ(no->status, 202) << no->body;
  const std::string ok_id = ok->body.substr(ok->body.find("\"id\":\"") + 6, 26);
  const std::string no_id = no->body.substr(no->body.find("\"id\":\"") + 6, 26);

  auto acked = [&](const std::string& id, const std::string& type) {
    for (const Post& p : read_posts(log))
      if (p.status == 200)
        for (const auto& [i, t] : p.events)
          if (i == id && t == type) return true;
    return false;
  };
  ASSERT_TRUE(wait_until(30s, 100ms, [&] { return acked(ok_id, "delivered") && acked(no_id, "bounced"); }))
      << "the receiver did not get both events acknowledged; receiver log:\n" << receiver->output()
      << "\nringpost:\n" << server->process().output_tail();
  const auto posts = read_posts(log);
  ASSERT_GE(posts.size(), 2u);
  EXPECT_EQ(posts[0].status, 500) << "the receiver failed the first POST";
  EXPECT_FALSE(posts[0].events.empty());
  EXPECT_EQ(posts[1].events, posts[0].events) << "after a 500 the same batch must be sent again";
  EXPECT_EQ(posts[1].id, posts[0].id) << "a resent batch keeps its webhook-id, so receivers can drop repeats";
  for (const Post& p : posts) {
    EXPECT_TRUE(p.valid) << "a POST whose signature does not verify with the shared secret";
    for (const auto& [id, type] : p.events)
      EXPECT_TRUE(type == "delivered" || type == "bounced") << "an event type the webhook did not ask for: " << type;
  }
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// The feed a restart rebuilds reaches back only as far as the spool does, so a receiver that
// is down while its events' segments finish must hold them (docs/spool.md, webhook_hold):
// after a kill -9 and a restart, every delivered event still reaches it, and only then are
// the old segments deleted.
TEST_F(Webhooks, AReceiverThatIsDownHoldsReclaimAndGetsEveryEventAfterARestart) {
  auto ports = pick_free_ports(3);
  ASSERT_TRUE(ports);
  const std::string secret = "whsec_cmluZ3Bvc3Qtd2ViaG9vay10ZXN0LWtleS0wMTIz";
  const auto log = dir_.path() / "webhook.jsonl";
  auto sink = SmtpSink::start(dir_.path() / "sink", (*ports)[2]);
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.spool_dir = dir_.path() / "spool";
  cfg.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink->port())}};
  cfg.extra_toml = fmt::format(
      "[spool]\nsegment_bytes = 65536\n\n[[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:{}/hooks\"\n"
      "secret = \"{}\"\nevents = [\"delivered\"]\n",
      (*ports)[1], secret);
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  RingpostApi api(server->port());
  constexpr int kBatches = 8, kPerBatch = 250;
  std::set<std::string> ids;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < kPerBatch; ++i)
      batch.push_back({"a@example.test", {fmt::format("r{}-{}@sink.test", b, i)}, "held", std::string(1000, 'h')});
    auto got = api.submit_batch(batch);
    ASSERT_TRUE(got) << got.error();
    ids.insert(got->begin(), got->end());
  }
  ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink->message_count() >= kBatches * kPerBatch; })) << sink->describe();
  const std::set<std::string> before = spool_files(cfg.spool_dir).names;
  ASSERT_GT(before.size(), 5u) << "64 KiB segments: two thousand 1 KiB messages make dozens";
  // Reclaim runs on every tick; with no receiver, none of the finished segments may go.
  std::this_thread::sleep_for(2s);
  const std::set<std::string> held = spool_files(cfg.spool_dir).names;
  EXPECT_TRUE(std::includes(held.begin(), held.end(), before.begin(), before.end()))
      << before.size() << " segments before, " << held.size() << " after: finished segments were deleted while "
      << "the webhook had not taken their events";

  server->kill9();
  auto receiver = Process::spawn({"/usr/bin/python3", (source_dir() / "webhook_receiver.py").string(),
                                  std::to_string((*ports)[1]), secret, log.string(), "0"},
                                 dir_.path() / "receiver.log");
  ASSERT_TRUE(receiver) << receiver.error();
  ASSERT_TRUE(receiver->wait_for_line("listening", 10s));
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();

  std::set<std::string> delivered;
  ASSERT_TRUE(wait_until(60s, 200ms, [&] {
    delivered.clear();
    for (const Post& p : read_posts(log))
      for (const auto& [id, type] : p.events)
        if (p.status == 200 && p.valid && type == "delivered") delivered.insert(id);
    return delivered.size() >= ids.size();
  })) << delivered.size() << " of " << ids.size() << " delivered events reached the receiver after the restart";
  EXPECT_EQ(delivered, ids);
  // Taken: now the old segments go.
  ASSERT_TRUE(wait_until(30s, 100ms, [&] { return all_gone(cfg.spool_dir, before); }))
      << "the held segments were not reclaimed once the webhook had their events";
}

}  // namespace
}  // namespace ringpost::it
