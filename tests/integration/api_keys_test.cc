// API keys against the real server: tokens made by `ringpost key new` (its printed SHA-256
// checked against our own hash of the token), 401 without a known key, 403 for a sender domain
// the key may not use, 429 with Retry-After and RateLimit-* headers past the key's rate, one
// key never seeing another's messages, and revocation by SIGHUP taking effect at once.
#include <signal.h>

#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

struct NewKey {
  std::string token;
  std::string entry;  // the [[keys]] table printed
};

// Runs `ringpost key new NAME`, and checks the printed sha256 is that of the printed token.
NewKey key_new(const std::filesystem::path& dir, const std::string& name) {
  auto p = Process::spawn({ringpost_binary().string(), "key", "new", name}, dir / fmt::format("key-{}.out", name));
  EXPECT_TRUE(p) << p.error();
  if (!p) return {};
  EXPECT_TRUE(wait_until(10s, 10ms, [&] { return !p->running(); }));
  const std::string out = p->output();
  std::smatch tok, sha;
  EXPECT_TRUE(std::regex_search(out, tok, std::regex("\n(rp_[A-Za-z0-9_-]{20,})\n"))) << out;
  EXPECT_TRUE(std::regex_search(out, sha, std::regex("sha256 = \"([0-9a-f]{64})\""))) << out;
  NewKey k{tok.size() > 1 ? tok[1].str() : "", ""};
  // Independent hash of the token: /usr/bin/sha256sum.
  const auto token_file = dir / fmt::format("token-{}.txt", name);
  std::ofstream(token_file, std::ios::binary) << k.token;
  auto sum = Process::spawn({"/usr/bin/sha256sum", token_file.string()}, dir / fmt::format("sha256sum-{}.out", name));
  EXPECT_TRUE(sum && wait_until(10s, 10ms, [&] { return !sum->running(); }));
  if (sum && sha.size() > 1) EXPECT_EQ(sum->output().substr(0, 64), sha[1].str()) << "printed sha256 is not the token's";
  k.entry = out.substr(out.find("[[keys]]"));
  return k;
}

class ApiKeys : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto ports = pick_free_ports(2);
    ASSERT_TRUE(ports);
    auto sink = SmtpSink::start(dir_.path() / "sink", (*ports)[1]);
    ASSERT_TRUE(sink) << sink.error();
    sink_.emplace(std::move(*sink));
    cfg_.http_port = (*ports)[0];
    cfg_.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink_->port())}};
    limited_ = key_new(dir_.path(), "limited");
    open_ = key_new(dir_.path(), "open");
  }

  // The keys' tables; `with_open` false = the "open" key revoked.
  std::string keys_toml(bool with_open) const {
    std::string t = limited_.entry +
                    "allowed_from = [\"example.test\", \"*.agents.example.test\"]\nrate = \"1/s\"\nburst = 3\n\n";
    if (with_open) t += open_.entry + "\n";
    return t;
  }

  static std::string message(const std::string& from, const std::string& rcpt) {
    return to_json({from, {rcpt}, "hi", "hello"});
  }

  ServerConfig cfg_;
  std::optional<SmtpSink> sink_;
  NewKey limited_, open_;
};

TEST_F(ApiKeys, AuthSenderDomainsRatesVisibilityAndRevocation) {
  ASSERT_FALSE(limited_.token.empty());
  cfg_.extra_toml = keys_toml(true);
  auto server = RingpostServer::start(dir_.path(), cfg_);
  ASSERT_TRUE(server) << server.error();

  HttpClient anon(server->port());
  auto no_key = anon.post_json("/v1/messages", message("a@example.test", "x@sink.test"));
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401) << no_key->body;
  EXPECT_EQ(error_code_of(no_key->body), "unauthorized");
  anon.set_header("Authorization", "Bearer rp_not_a_real_token_at_all");
  auto bad_key = anon.get("/v1/stats");
  ASSERT_TRUE(bad_key);
  EXPECT_EQ(bad_key->status, 401);
  auto health = anon.get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << "health checks need no key";

  HttpClient limited(server->port());
  limited.set_header("Authorization", "Bearer " + limited_.token);
  // allowed_from: the exact domain and sub-domains of the wildcard, nothing else.
  auto ok = limited.post_json("/v1/messages", message("a@example.test", "x@sink.test"));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 202) << ok->body;
  EXPECT_EQ(ok->header("ratelimit-limit"), "3");
  EXPECT_EQ(ok->header("ratelimit-remaining"), "2");
  auto sub = limited.post_json("/v1/messages", message("b@bot1.agents.example.test", "y@sink.test"));
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->status, 202) << sub->body;
  auto denied = limited.post_json("/v1/messages", message("c@agents.example.test", "z@sink.test"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403) << denied->body;
  EXPECT_EQ(error_code_of(denied->body), "sender_not_allowed");
  EXPECT_NE(denied->body.find("\"field\":\"from\""), std::string::npos) << denied->body;
  // Burst of 3 used up (the 403 counted too): the next call within the second is refused.
  auto over = limited.get("/v1/stats");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429) << over->body;
  EXPECT_EQ(error_code_of(over->body), "rate_limited");
  EXPECT_EQ(over->header("ratelimit-remaining"), "0");
  EXPECT_GE(std::stoi(over->header("retry-after").empty() ? "0" : over->header("retry-after")), 1);

  // Visibility: the other key cannot see limited's message; limited can.
  auto id = ok->body.substr(ok->body.find("\"id\":\"") + 6, 26);
  HttpClient other(server->port());
  other.set_header("Authorization", "Bearer " + open_.token);
  auto theirs = other.get("/v1/messages/" + id);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 404) << "another key's message must look unknown: " << theirs->body;
  auto mine = other.post_json("/v1/messages", message("any@anywhere.test", "w@sink.test"));
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->status, 202) << "a key without allowed_from may send as anyone: " << mine->body;
  EXPECT_EQ(mine->header("ratelimit-limit"), "") << "no rate, no RateLimit headers";
  ASSERT_TRUE(wait_until(3s, 50ms, [&] {
    auto r = limited.get("/v1/messages/" + id);
    return r && r->status == 200;
  })) << "the owner could not read its own message";

  // Revocation: the key leaves the config, SIGHUP, and it stops working at once.
  ASSERT_TRUE(wait_until(20s, 100ms, [&] { return sink_->message_count() >= 3; })) << sink_->describe();
  ServerConfig revoked_cfg = server->config();
  revoked_cfg.extra_toml = keys_toml(false);
  std::ofstream(dir_.path() / "ringpost.toml") << render_toml(revoked_cfg);
  ASSERT_EQ(::kill(server->process().pid(), SIGHUP), 0);
  ASSERT_TRUE(server->process().wait_for_line("reloaded delivery limits", 10s));
  auto revoked = other.get("/v1/stats");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 401) << "a revoked key still works: " << revoked->body;
}

}  // namespace
}  // namespace ringpost::it
