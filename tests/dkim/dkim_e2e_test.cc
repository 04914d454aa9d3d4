// DKIM end to end, checked from the far side: keys made by `ringpost dkim keygen`, its TXT
// records published by a real DNS server (Knot), `ringpost serve` signing at acceptance, Postfix
// smtp-sink receiving, and both verifiers (python3-dkim, Perl Mail::DKIM) fetching the keys
// from that DNS server to verify what the sink received. Also: unconfigured domains arrive
// unsigned, require_dkim refuses them, a bad key stops start-up with file:line:key, SIGHUP
// swaps keys and survives a broken config.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/dkim/dkim_fixtures.h"
#include "tests/dns_support/authoritative_dns.h"
#include "tests/dns_support/subprocess.h"
#include "tests/integration/free_port.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::dkim_test {
namespace {

using namespace std::chrono_literals;
using it::Process;
using it::RingpostApi;
using it::SmtpSink;
using testing::AuthoritativeDns;

struct GeneratedKey {
  std::filesystem::path path;
  std::string record;  // "sel._domainkey.example.test. IN TXT \"...\" ..."
  std::string output;  // everything keygen printed
};

std::string toml_string(std::string_view s) { return it::json_quote(s); }  // same escapes suffice here

class DkimEndToEnd : public it::ServerTest {
 protected:
  void SetUp() override {
    it::ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (auto why = AuthoritativeDns::unavailable_reason()) GTEST_SKIP() << *why;
    auto ports = it::pick_free_ports(2);
    ASSERT_TRUE(ports);
    http_port_ = (*ports)[0];
    auto sink = SmtpSink::start(dir_ / "sink", (*ports)[1]);
    ASSERT_TRUE(sink) << sink.error();
    sink_.emplace(std::move(*sink));
    dns_.emplace(AuthoritativeDns::Options{.zones = {"example.test"}});
    ASSERT_TRUE(dns_->start());
  }

  // `ringpost dkim keygen`; its record is published in the test's DNS server.
  GeneratedKey keygen(const std::string& selector, const std::string& algorithm, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{it::ringpost_binary().string(), "dkim", "keygen", "--domain", "example.test",
                                  "--selector", selector, "--algorithm", algorithm, "--out", (dir_ / "keys").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = testing::run_command(argv, dir_ / fmt::format("keygen-{}.out", selector), 60s);
    EXPECT_TRUE(r && r->exited_ok()) << (r ? r->output : r.error());
    GeneratedKey k;
    k.output = r ? r->output : "";
    k.path = dir_ / "keys" / fmt::format("{}.example.test.pem", selector);
    std::istringstream lines(k.output);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with(selector + "._domainkey.example.test. IN TXT ")) k.record = line;
    EXPECT_FALSE(k.record.empty()) << k.output;
    const std::string data = k.record.substr(k.record.find("IN TXT ") + 7);
    dns_->add({fmt::format("{}._domainkey.example.test", selector), "TXT", 60, data});
    auto published = dns_->publish();
    EXPECT_TRUE(published) << published.error();
    return k;
  }

  // `server_extra`: more [server] lines (shifts the line numbers of what follows).
  void write_config(const std::string& dkim_toml, bool require_dkim = false, const std::string& server_extra = "") {
    std::ofstream out(dir_ / "ringpost.toml");
    out << fmt::format(
        "[server]\nhttp_listen = \"127.0.0.1:{}\"\nthreads = 1\nspool_dir = {}\nrequire_dkim = {}\n{}\n"
        "[defaults]\nretry = [\"1s\"]\nconnect_timeout = \"2s\"\n\n"
        "[domains.\"sink.test\"]\nroute = \"127.0.0.1:{}\"\n\n{}",
        http_port_, toml_string((dir_ / "spool").string()), require_dkim, server_extra, sink_->port(), dkim_toml);
  }

  static std::string dkim_entry(const GeneratedKey& k, const std::string& selector, bool subdomains = false) {
    return fmt::format("[[dkim.\"example.test\"]]\nselector = \"{}\"\nkey_file = {}\nsubdomains = {}\n\n", selector,
                       toml_string(k.path.string()), subdomains);
  }

  tl::expected<Process, std::string> spawn_server() {
    return Process::spawn({it::ringpost_binary().string(), "serve", "--config", (dir_ / "ringpost.toml").string()},
                          dir_ / fmt::format("ringpost-{}.log", ++launches_));
  }

  void start_server() {
    auto p = spawn_server();
    ASSERT_TRUE(p) << p.error();
    server_.emplace(std::move(*p));
    auto line = server_->wait_for_line(fmt::format("listening on 127.0.0.1:{}", http_port_), 30s);
    ASSERT_TRUE(line) << line.error();
  }

  // What the sink received, by recipient, with CRLF line ends restored (its dump writes LF).
  std::map<std::string, std::string> received(std::size_t expect) {
    EXPECT_TRUE(it::wait_until(30s, 50ms, [&] { return sink_->message_count() >= static_cast<int>(expect); }))
        << sink_->describe() << "\n" << (server_ ? server_->output_tail() : "");
    std::map<std::string, std::string> out;
    for (const it::SinkMessage& m : sink_->messages())
      for (const std::string& r : m.rcpts) out[r] = to_crlf(m.content);
    return out;
  }

  KeySource from_dns() const { return KeySource{{}, dns_->server_spec()}; }

  uint16_t http_port_ = 0;
  int launches_ = 0;
  std::optional<SmtpSink> sink_;
  std::optional<AuthoritativeDns> dns_;
  std::optional<Process> server_;
};

std::string raw_json(const std::string& rcpt, const std::string& raw) {
  return fmt::format(R"({{"from":"news@news.example.test","to":[{}],"raw":{}}})", it::json_quote(rcpt),
                     it::json_quote(raw));
}

// Selectors of the passing signatures in a verdict, for messages about which key signed.
std::vector<std::string> passing(const MessageVerdict& v) {
  std::vector<std::string> out;
  for (const auto& s : v.signatures)
    if (s.result == "pass") out.push_back(s.domain + "/" + s.selector + "/" + s.algorithm);
  return out;
}

TEST_F(DkimEndToEnd, SignedAtAcceptanceAndVerifiedFromTheSinkWithKeysFromDns) {
  const GeneratedKey rsa = keygen("rsa1", "rsa");
  const GeneratedKey ed = keygen("ed1", "ed25519");
  // Dual signing for example.test; only the Ed25519 entry covers its sub-domains.
  write_config(dkim_entry(rsa, "rsa1") + dkim_entry(ed, "ed1", true));
  start_server();
  RingpostApi api(http_port_);

  // 8-bit text (quoted-printable on the wire), a line starting with '.', trailing blank lines.
  auto a = api.submit({"alice@example.test", {"a@sink.test"}, "Quarterly report",
                       "Hello,\n.leading dot line\nGr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n\n\n"});
  ASSERT_TRUE(a) << a.error();
  // No final line end: the DATA writer adds the CRLF the signature assumed.
  auto b = api.submit({"alice@example.test", {"b@sink.test"}, "no final newline", "last line without newline"});
  ASSERT_TRUE(b) << b.error();
  // Raw, sub-domain From with a display name, folded Subject, 8-bit body, List-Unsubscribe.
  auto c = api.http().post_json(
      "/v1/messages",
      raw_json("c@sink.test",
               "From: \"News, Desk\" <news@News.Example.TEST>\nTo: c@sink.test\nSubject: a folded\n\tsubject line\n"
               "List-Unsubscribe: <https://news.example.test/u/1>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
               "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
               "caf\xc3\xa9 \xe2\x80\x94 8-bit body\n\n"));
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 202) << c->body;
  // A domain without a DKIM entry goes out unsigned.
  auto d = api.submit({"bob@other.test", {"d@sink.test"}, "unsigned", "no key for other.test"});
  ASSERT_TRUE(d) << d.error();

  auto got = received(4);
  ASSERT_EQ(got.size(), 4u) << sink_->describe();
  EXPECT_EQ(got["d@sink.test"].find("DKIM-Signature"), std::string::npos) << got["d@sink.test"];
  EXPECT_TRUE(got["a@sink.test"].starts_with("DKIM-Signature: v=1; a=rsa-sha256;")) << got["a@sink.test"];
  EXPECT_NE(got["a@sink.test"].find("\r\n.leading dot line\r\n"), std::string::npos) << "dot-stuffing undone";

  EXPECT_TRUE(verified_by_both(got["a@sink.test"], from_dns(), 2));
  EXPECT_TRUE(verified_by_both(got["b@sink.test"], from_dns(), 2));
  EXPECT_TRUE(verified_by_both(got["c@sink.test"], from_dns(), 1));
  for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
    auto verdicts = run_verifier(v, {got["a@sink.test"], got["c@sink.test"], got["d@sink.test"]}, from_dns());
    ASSERT_TRUE(verdicts) << verdicts.error();
    EXPECT_EQ(passing((*verdicts)[0]),
              (std::vector<std::string>{"example.test/rsa1/rsa-sha256", "example.test/ed1/ed25519-sha256"}))
        << verifier_name(v) << ": " << (*verdicts)[0].describe();
    // news.example.test falls back to example.test's sub-domain entry: d=example.test aligns
    // with From under DMARC's relaxed mode.
    EXPECT_EQ(passing((*verdicts)[1]), (std::vector<std::string>{"example.test/ed1/ed25519-sha256"}))
        << verifier_name(v) << ": " << (*verdicts)[1].describe();
    EXPECT_EQ((*verdicts)[2].declared, 0) << verifier_name(v) << ": " << (*verdicts)[2].describe();
  }
}

TEST_F(DkimEndToEnd, RequireDkimRefusesUnconfiguredDomainsAndAcceptsNothingOfTheBatch) {
  const GeneratedKey ed = keygen("ed1", "ed25519");
  write_config(dkim_entry(ed, "ed1"), /*require_dkim=*/true);
  start_server();
  RingpostApi api(http_port_);

  auto single = api.http().post_json("/v1/messages", it::to_json({"bob@other.test", {"x@sink.test"}, "s", "t"}));
  ASSERT_TRUE(single);
  EXPECT_EQ(single->status, 422) << single->body;
  EXPECT_EQ(it::error_code_of(single->body), "dkim_required") << single->body;
  EXPECT_NE(single->body.find("other.test"), std::string::npos) << single->body;
  EXPECT_NE(single->body.find("\"field\":\"from\""), std::string::npos) << single->body;

  const std::vector<it::OutgoingMessage> batch{{"alice@example.test", {"y@sink.test"}, "ok", "signed"},
                                               {"bob@other.test", {"z@sink.test"}, "refused", "no key"}};
  auto refused = api.http().post_json("/v1/messages/batch", it::batch_json(batch));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;
  EXPECT_EQ(it::error_code_of(refused->body), "dkim_required") << refused->body;
  EXPECT_NE(refused->body.find("messages[1].from"), std::string::npos) << refused->body;

  // A raw message without a From field has nothing to sign for; since issue 18 it is refused
  // before signing is considered (RFC 5322 requires exactly one From).
  auto no_from = api.http().post_json(
      "/v1/messages", R"({"from":"alice@example.test","to":["w@sink.test"],"raw":"Subject: no from\r\n\r\nbody\r\n"})");
  ASSERT_TRUE(no_from);
  EXPECT_EQ(no_from->status, 422) << no_from->body;
  EXPECT_EQ(it::error_code_of(no_from->body), "invalid_raw") << no_from->body;

  auto stats = api.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->total(), 0) << "a refused request accepted something";

  auto ok = api.submit({"alice@example.test", {"v@sink.test"}, "signed", "accepted"});
  ASSERT_TRUE(ok) << ok.error();
  auto got = received(1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got.count("v@sink.test"));
  EXPECT_TRUE(verified_by_both(got["v@sink.test"], from_dns(), 1));
}

// A dual-signed 1,000-message batch costs about a second of CPU. It is signed by the worker
// pool, not on the HTTP loop: the loop answers /v1/stats while the batch's messages are still
// waiting for their signatures (inline signing could never show a non-zero count, since no
// other request is served until it is done). Then every message arrives, and a sample spread
// over the batch verifies with both signatures in both verifiers.
TEST_F(DkimEndToEnd, LargeBatchIsSignedOffTheHttpLoopAndEveryMessageArrivesSigned) {
  const GeneratedKey rsa = keygen("rsa1", "rsa");
  const GeneratedKey ed = keygen("ed1", "ed25519");
  write_config(dkim_entry(rsa, "rsa1") + dkim_entry(ed, "ed1"), false, "signing_threads = 2\n");
  start_server();

  constexpr int kBatch = 1000;
  std::vector<it::OutgoingMessage> batch;
  for (int i = 0; i < kBatch; ++i)
    batch.push_back({"alice@example.test", {fmt::format("r{}@sink.test", i)}, fmt::format("message {}", i),
                     fmt::format("body of message {}\n", i)});
  tl::expected<std::vector<std::string>, std::string> ids = tl::make_unexpected("not submitted");
  std::atomic<bool> answered{false};
  std::thread submitter([&] {
    RingpostApi submit_api(http_port_);
    ids = submit_api.submit_batch(batch);
    answered = true;
  });

  // Polled on a second connection while the batch is out for signing.
  RingpostApi api(http_port_);
  int64_t max_waiting = 0;
  int polls = 0;
  while (!answered && polls < 20000) {
    ++polls;
    auto r = api.http().get("/v1/stats");
    ASSERT_TRUE(r) << r.error();
    const std::string key = "\"messages_awaiting_signature\":";
    auto at = r->body.find(key);
    ASSERT_NE(at, std::string::npos) << r->body;
    max_waiting = std::max<int64_t>(max_waiting, std::stoll(r->body.substr(at + key.size())));
  }
  submitter.join();
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_EQ(ids->size(), static_cast<std::size_t>(kBatch));
  EXPECT_EQ(max_waiting, kBatch) << "no stats answer came while the batch was being signed (" << polls << " polls)";

  auto got = received(kBatch);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kBatch)) << sink_->describe();
  std::vector<std::string> sample;
  for (int i = 0; i < kBatch; i += 50) sample.push_back(got[fmt::format("r{}@sink.test", i)]);
  for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
    auto verdicts = run_verifier(v, sample, from_dns());
    ASSERT_TRUE(verdicts) << verdicts.error();
    ASSERT_EQ(verdicts->size(), sample.size());
    for (std::size_t i = 0; i < sample.size(); ++i)
      EXPECT_EQ(passing((*verdicts)[i]),
                (std::vector<std::string>{"example.test/rsa1/rsa-sha256", "example.test/ed1/ed25519-sha256"}))
          << verifier_name(v) << " message " << i * 50 << ": " << (*verdicts)[i].describe();
  }
}

// Backpressure: with the signing queue bounded at one message, submits from eight clients
// wait their turn instead of piling up in memory: the backlog never holds more than the one
// request admitted under the bound, the bound's metric counts the waits, and nothing is lost.
TEST_F(DkimEndToEnd, FullSigningQueueMakesSubmitsWaitInsteadOfGrowing) {
  const GeneratedKey rsa = keygen("rsa1", "rsa");
  write_config(dkim_entry(rsa, "rsa1"), false, "signing_threads = 1\nsigning_queue_messages = 1\n");
  start_server();

  constexpr int kClients = 8, kRequests = 4, kBatch = 25;
  std::vector<std::string> errors(kClients);
  std::vector<int> accepted(kClients, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      RingpostApi api(http_port_);
      for (int r = 0; r < kRequests; ++r) {
        std::vector<it::OutgoingMessage> batch;
        for (int i = 0; i < kBatch; ++i)
          batch.push_back({"alice@example.test", {fmt::format("c{}r{}m{}@sink.test", c, r, i)}, "waits", "body\n"});
        auto ids = api.submit_batch(batch);
        if (!ids) {
          errors[c] = ids.error();
          return;
        }
        accepted[c] += static_cast<int>(ids->size());
      }
    });
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(errors[c], "") << "client " << c;
    EXPECT_EQ(accepted[c], kRequests * kBatch) << "client " << c;
  }

  RingpostApi api(http_port_);
  auto stats = api.http().get("/v1/stats");
  ASSERT_TRUE(stats) << stats.error();
  auto number = [&](const std::string& body, const std::string& key) -> int64_t {
    const auto at = body.find("\"" + key + "\":");
    return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
  };
  // Admitted only while the backlog was under one message, i.e. empty: one request at a time.
  EXPECT_EQ(number(stats->body, "peak_messages_awaiting_signature"), kBatch) << stats->body;
  EXPECT_EQ(number(stats->body, "messages_awaiting_signature"), 0) << stats->body;
  EXPECT_EQ(number(stats->body, "requests_waiting"), 0) << stats->body;
  auto metrics = api.http().get("/metrics");
  ASSERT_TRUE(metrics) << metrics.error();
  const std::string hit = "ringpost_limit_hits_total{limit=\"signing_queue_messages\"} ";
  const auto at = metrics->body.find(hit);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  EXPECT_GT(std::stoll(metrics->body.substr(at + hit.size())), 0) << "no submit ever waited";

  auto got = received(kClients * kRequests * kBatch);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kClients * kRequests * kBatch)) << sink_->describe();
}

TEST_F(DkimEndToEnd, BadKeyFileStopsServeWithFileLineAndKey) {
  const auto garbage = dir_ / "garbage.pem";
  std::ofstream(garbage) << "not a key\n";
  const GeneratedKey ed = keygen("ed1", "ed25519");
  struct Case {
    std::string toml;
    std::string expected;
  };
  const std::string cfg = (dir_ / "ringpost.toml").string();
  const std::vector<Case> cases{
      // write_config puts 13 lines of [server], [defaults] and [domains] first: the DKIM
      // section starts on line 14.
      {fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\n", toml_string(garbage.string())),
       fmt::format("config error: {}:16: key 'dkim.\"example.test\".key_file': {}: not a PEM file", cfg, garbage.string())},
      {"[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = \"/nonexistent/key.pem\"\n",
       fmt::format("config error: {}:16: key 'dkim.\"example.test\".key_file': /nonexistent/key.pem: cannot open: No "
                   "such file or directory",
                   cfg)},
      {dkim_entry(ed, "ed1") + fmt::format("[[dkim.\"example.test\"]]\nselector = \"r\"\nalgorithm = \"rsa-sha256\"\nkey_file = {}\n",
                                          toml_string(ed.path.string())),
       fmt::format("config error: {}:22: key 'dkim.\"example.test\"[1].key_file': {} holds an Ed25519 key, but "
                   "algorithm is \"rsa-sha256\"",
                   cfg, ed.path.string())},
  };
  for (const Case& c : cases) {
    write_config(c.toml);
    auto p = spawn_server();
    ASSERT_TRUE(p) << p.error();
    ASSERT_TRUE(it::wait_until(10s, 20ms, [&] { return !p->running(); })) << "serve kept running:\n" << p->output();
    ASSERT_TRUE(p->wait_status());
    EXPECT_TRUE(WIFEXITED(*p->wait_status()) && WEXITSTATUS(*p->wait_status()) != 0) << p->describe_exit();
    EXPECT_NE(p->output().find(c.expected), std::string::npos) << "expected: " << c.expected << "\noutput: " << p->output();
    EXPECT_FALSE(it::port_is_listening(http_port_));
  }
}

TEST_F(DkimEndToEnd, SighupSwapsKeysAndABrokenConfigKeepsTheCurrentOnes) {
  const GeneratedKey ed1 = keygen("ed1", "ed25519");
  write_config(dkim_entry(ed1, "ed1"));
  start_server();
  RingpostApi api(http_port_);
  auto first = api.submit({"alice@example.test", {"1@sink.test"}, "before reload", "signed with ed1"});
  ASSERT_TRUE(first) << first.error();

  // Key rotation: a new selector published, the config pointed at it, SIGHUP.
  const GeneratedKey ed2 = keygen("ed2", "ed25519");
  const GeneratedKey rsa2 = keygen("rsa2", "rsa", {"--bits", "1024"});
  write_config(dkim_entry(ed2, "ed2") + dkim_entry(rsa2, "rsa2"));
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  ASSERT_TRUE(server_->wait_for_line("reloaded DKIM: 2 keys", 10s));
  auto second = api.submit({"alice@example.test", {"2@sink.test"}, "after reload", "signed with ed2 and rsa2"});
  ASSERT_TRUE(second) << second.error();

  // A config that no longer loads: the keys in use stay, serving goes on.
  write_config("[dkim.\"example.test\"]\nselector = \"gone\"\nkey_file = \"/nonexistent/key.pem\"\n");
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  ASSERT_TRUE(server_->wait_for_line("keeping the current config", 10s));
  EXPECT_TRUE(server_->running());
  auto third = api.submit({"alice@example.test", {"3@sink.test"}, "after a bad reload", "still ed2 and rsa2"});
  ASSERT_TRUE(third) << third.error();

  auto got = received(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(verified_by_both(got["1@sink.test"], from_dns(), 1));
  EXPECT_TRUE(verified_by_both(got["2@sink.test"], from_dns(), 2));
  EXPECT_TRUE(verified_by_both(got["3@sink.test"], from_dns(), 2));
  for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
    auto verdicts = run_verifier(v, {got["1@sink.test"], got["2@sink.test"], got["3@sink.test"]}, from_dns());
    ASSERT_TRUE(verdicts) << verdicts.error();
    EXPECT_EQ(passing((*verdicts)[0]), (std::vector<std::string>{"example.test/ed1/ed25519-sha256"}));
    const std::vector<std::string> rotated{"example.test/ed2/ed25519-sha256", "example.test/rsa2/rsa-sha256"};
    EXPECT_EQ(passing((*verdicts)[1]), rotated) << verifier_name(v) << ": " << (*verdicts)[1].describe();
    EXPECT_EQ(passing((*verdicts)[2]), rotated) << verifier_name(v) << ": " << (*verdicts)[2].describe();
  }
}

TEST_F(DkimEndToEnd, KeygenWritesAPrivateKeyOnlyItsOwnerCanReadAndTheRecordToPublish) {
  const GeneratedKey rsa = keygen("big", "rsa");
  struct stat st {};
  ASSERT_EQ(::stat(rsa.path.c_str(), &st), 0) << rsa.path;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key = dkim::load_signing_key(rsa.path.string());
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->bits, 2048u);
  // "v=DKIM1; k=rsa; p=<392 base64 chars>" needs two character-strings of at most 255.
  EXPECT_TRUE(rsa.record.starts_with("big._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=")) << rsa.record;
  std::string joined;
  int strings = 0;
  for (std::size_t open = rsa.record.find('"'); open != std::string::npos; open = rsa.record.find('"', open + 1)) {
    const std::size_t close = rsa.record.find('"', open + 1);
    EXPECT_LE(close - open - 1, 255u);
    joined += rsa.record.substr(open + 1, close - open - 1);
    ++strings;
    open = close;
  }
  EXPECT_EQ(strings, 2);
  EXPECT_EQ(joined, dkim::dns_txt_value(*key));
  EXPECT_NE(rsa.output.find("[[dkim.\"example.test\"]]\nselector = \"big\"\n"), std::string::npos) << rsa.output;

  // Never over an existing key; --bits is for RSA only; the domain must be a domain.
  const std::string bin = it::ringpost_binary().string();
  const auto out = dir_ / "keygen-refused.out";
  auto again = testing::run_command({bin, "dkim", "keygen", "--domain", "example.test", "--selector", "big", "--algorithm",
                                     "rsa", "--out", (dir_ / "keys").string()},
                                    out, 60s);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->exited_ok());
  EXPECT_NE(again->output.find("already exists"), std::string::npos) << again->output;
  auto bits = testing::run_command({bin, "dkim", "keygen", "--domain", "example.test", "--selector", "e", "--algorithm",
                                    "ed25519", "--bits", "2048", "--out", (dir_ / "keys").string()},
                                   out, 60s);
  ASSERT_TRUE(bits);
  EXPECT_FALSE(bits->exited_ok());
  EXPECT_NE(bits->output.find("--bits applies to RSA keys only"), std::string::npos) << bits->output;
  auto domain = testing::run_command({bin, "dkim", "keygen", "--domain", "../etc", "--selector", "e", "--out",
                                      (dir_ / "keys").string()},
                                     out, 60s);
  ASSERT_TRUE(domain);
  EXPECT_FALSE(domain->exited_ok());
  EXPECT_NE(domain->output.find("is not a domain name"), std::string::npos) << domain->output;
}

}  // namespace
}  // namespace ringpost::dkim_test
