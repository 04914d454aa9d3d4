// The delivery log ([log] delivery_log, docs/delivery-log.md) of a real `ringpost serve`: mail
// delivered to Postfix smtp-sink, deferred (a route nobody listens on), expired (max_age shorter
// than the first retry), bounced (a scripted server answering 550) and an operator's action each
// leave their line; every line matches docs/delivery-log.schema.json (checked by python3-
// jsonschema); size rotation loses no line; after SIGUSR1 later lines go to a fresh file at the
// original path. With Postfix available, a STARTTLS delivery logs its TLS version and cipher.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/run_command.h"
#include "tests/integration/scripted_smtp.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"
#include "tests/interop/postfix_mx.h"
#include "tests/interop/test_certificate.h"

namespace ringpost::it {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kToken = "delivery-log-admin-token";

// The fields the tests look at, from one line.
struct Line {
  std::string raw;
  std::string type, message_id, recipient, site, mx_host, mx_ip, tls_version, tls_cipher, action, domain, until;
  std::string enhanced, campaign;
  int64_t reply_code = 0, attempt = -1, mx_port = 0, attempt_ms = -1, queued_ms = -1;
};

std::string str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  return e[key].get(v) ? std::string() : std::string(v);
}
int64_t num(simdjson::dom::element e, const char* key) {
  int64_t v = -1;
  return e[key].get(v) ? -1 : v;
}

// Every line of `files`, in order (pass the oldest file first). A line that is not JSON is kept
// with an empty type; the schema check reports it.
std::vector<Line> read_lines(const std::vector<fs::path>& files) {
  std::vector<Line> out;
  simdjson::dom::parser parser;
  for (const fs::path& p : files) {
    std::ifstream in(p);
    for (std::string raw; std::getline(in, raw);) {
      Line l;
      l.raw = raw;
      simdjson::dom::element e;
      if (!parser.parse(raw).get(e)) {
        l.type = str(e, "type");
        l.message_id = str(e, "message_id");
        l.recipient = str(e, "recipient");
        l.site = str(e, "site");
        l.mx_host = str(e, "mx_host");
        l.mx_ip = str(e, "mx_ip");
        l.mx_port = num(e, "mx_port");
        l.tls_version = str(e, "tls_version");
        l.tls_cipher = str(e, "tls_cipher");
        l.action = str(e, "action");
        l.domain = str(e, "domain");
        l.until = str(e, "until");
        l.attempt = num(e, "attempt");
        l.attempt_ms = num(e, "attempt_ms");
        l.queued_ms = num(e, "queued_ms");
        simdjson::dom::element reply, tags;
        if (!e["reply"].get(reply)) {
          l.reply_code = num(reply, "code");
          l.enhanced = str(reply, "enhanced");
        }
        if (!e["tags"].get(tags)) l.campaign = str(tags, "campaign");
      }
      out.push_back(std::move(l));
    }
  }
  return out;
}

const Line* find(const std::vector<Line>& lines, std::string_view type, std::string_view recipient) {
  for (const Line& l : lines)
    if (l.type == type && l.recipient == recipient) return &l;
  return nullptr;
}

std::string dump(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& l : lines) out += "\n  " + l.raw;
  return out;
}

// Runs the python3-jsonschema validator over `files`; the result names every bad line.
::testing::AssertionResult matches_schema(const std::vector<fs::path>& files, std::size_t expected_lines) {
  std::vector<std::string> argv{kPython3, (source_dir() / "validate_delivery_log.py").string(),
                                (source_dir() / "../../docs/delivery-log.schema.json").string()};
  for (const fs::path& p : files) argv.push_back(p.string());
  auto r = run_command(argv);
  if (!r) return ::testing::AssertionFailure() << r.error();
  if (r->exit_code != 0) return ::testing::AssertionFailure() << r->describe();
  simdjson::dom::parser parser;
  int64_t lines = -1;
  if (parser.parse(r->out)["lines"].get(lines) || static_cast<std::size_t>(lines) != expected_lines)
    return ::testing::AssertionFailure() << "validator saw " << lines << " lines, expected " << expected_lines << ": "
                                         << r->describe();
  return ::testing::AssertionSuccess();
}

class DeliveryLog : public SinkServerTest {
 protected:
  fs::path log_path() const { return dir_.path() / "delivery.log"; }
  std::string log_toml(std::string extra = "") const {
    return fmt::format("[log]\ndelivery_log = \"{}\"\n{}", log_path().string(), extra);
  }
  // Every file of the log, oldest first.
  std::vector<fs::path> log_files() const {
    std::vector<fs::path> files;
    for (int k = 100; k >= 1; --k)
      if (fs::path p = fmt::format("{}.{}", log_path().string(), k); fs::exists(p)) files.push_back(p);
    if (fs::exists(log_path())) files.push_back(log_path());
    return files;
  }
  std::string submit(const std::string& json) {
    HttpClient http(server->port());
    auto r = http.post_json("/v1/messages", json);
    EXPECT_TRUE(r) << (r ? "" : r.error());
    if (!r) return {};
    EXPECT_EQ(r->status, 202) << r->body;
    simdjson::dom::parser p;
    std::string_view id;
    if (p.parse(r->body)["id"].get(id)) return {};
    return std::string(id);
  }
};

TEST_F(DeliveryLog, EveryKindOfEventIsLoggedAndMatchesTheSchema) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  auto rejecting = ScriptedSmtp::start(dir_ / "scripted", (*ports)[0], {"reject"});
  ASSERT_TRUE(rejecting) << rejecting.error();
  ServerConfig cfg;
  cfg.retry = {"1h"};  // one attempt each: the lines below are the only ones
  cfg.server_toml = fmt::format("admin_token = \"{}\"\n", kToken);
  cfg.domains.push_back({"bounce.test", fmt::format("127.0.0.1:{}", rejecting->port())});
  // Nobody listens there and max_age is shorter than the first retry: the first failure expires.
  cfg.domains.push_back({"expire.test", fmt::format("127.0.0.1:{}", (*ports)[1]), "max_age = \"1s\"\n"});
  cfg.extra_toml = log_toml();
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg, /*with_down_domain=*/true));

  const std::string sent = submit(R"({"from":"a@example.test","to":["one@sink.test","two@sink.test"],
    "subject":"s","text":"t","tags":{"campaign":"autumn"}})");
  const std::string deferred = submit(R"({"from":"a@example.test","to":["x@down.test"],"subject":"s","text":"t"})");
  const std::string bounced = submit(R"({"from":"a@example.test","to":["nobody@bounce.test"],"subject":"s","text":"t"})");
  const std::string expired = submit(R"({"from":"a@example.test","to":["late@expire.test"],"subject":"s","text":"t"})");
  ASSERT_FALSE(sent.empty() || deferred.empty() || bounced.empty() || expired.empty());
  std::vector<Line> lines;
  const bool outcomes = wait_until(30s, 50ms, [&] {
    lines = read_lines({log_path()});
    return find(lines, "delivered", "one@sink.test") && find(lines, "delivered", "two@sink.test") &&
           find(lines, "deferred", "x@down.test") && find(lines, "bounced", "nobody@bounce.test") &&
           find(lines, "expired", "late@expire.test");
  });
  ASSERT_TRUE(outcomes) << "lines so far:" << dump(lines);

  // After the deferral: a suspended site would hold the mail back instead of trying it.
  HttpClient admin(server->port());
  admin.set_header("Authorization", fmt::format("Bearer {}", kToken));
  auto suspended = admin.post_json("/v1/domains/down.test/suspend", R"({"for":"10m"})");
  ASSERT_TRUE(suspended);
  ASSERT_EQ(suspended->status, 200) << suspended->body;
  ASSERT_TRUE(wait_until(10s, 50ms, [&] {
    lines = read_lines({log_path()});
    return std::any_of(lines.begin(), lines.end(), [](const Line& l) { return l.type == "admin"; });
  })) << "no admin line:" << dump(lines);
  EXPECT_EQ(sink->message_count(), 1) << "the far side got the delivered message once";

  // Acceptance comes first, once per recipient, with the owner's tags.
  for (const char* rcpt : {"one@sink.test", "two@sink.test", "x@down.test", "nobody@bounce.test", "late@expire.test"}) {
    const Line* a = find(lines, "accepted", rcpt);
    ASSERT_TRUE(a) << rcpt << dump(lines);
    EXPECT_EQ(a->attempt, -1) << a->raw;
    EXPECT_LT(a - lines.data(), find(lines, "deferred", rcpt) ? find(lines, "deferred", rcpt) - lines.data()
                                                               : static_cast<std::ptrdiff_t>(lines.size()));
  }
  EXPECT_EQ(find(lines, "accepted", "one@sink.test")->campaign, "autumn");

  const std::string sink_site = fmt::format("route:127.0.0.1:{}", sink->port());
  for (const char* rcpt : {"one@sink.test", "two@sink.test"}) {
    const Line* d = find(lines, "delivered", rcpt);
    EXPECT_EQ(d->message_id, sent) << d->raw;
    EXPECT_EQ(d->reply_code, 250) << d->raw;
    EXPECT_EQ(d->attempt, 1) << d->raw;
    EXPECT_EQ(d->site, sink_site) << d->raw;
    EXPECT_EQ(d->mx_ip, "127.0.0.1") << d->raw;
    EXPECT_EQ(d->mx_port, sink->port()) << d->raw;
    EXPECT_GE(d->attempt_ms, 0) << d->raw;
    EXPECT_GE(d->queued_ms, d->attempt_ms) << "an attempt lies within the time queued: " << d->raw;
    EXPECT_TRUE(d->tls_version.empty()) << "smtp-sink offers no STARTTLS: " << d->raw;
    EXPECT_EQ(d->campaign, "autumn") << d->raw;
  }
  const Line* df = find(lines, "deferred", "x@down.test");
  EXPECT_EQ(df->message_id, deferred);
  EXPECT_EQ(df->reply_code / 100, 4) << df->raw;
  EXPECT_EQ(df->attempt, 1) << df->raw;
  EXPECT_NE(df->site.find("route:127.0.0.1:"), std::string::npos) << df->raw;

  const Line* b = find(lines, "bounced", "nobody@bounce.test");
  EXPECT_EQ(b->message_id, bounced);
  EXPECT_EQ(b->reply_code, 550) << b->raw;
  EXPECT_EQ(b->enhanced, "5.1.1") << b->raw;
  EXPECT_EQ(b->attempt, 1) << b->raw;
  EXPECT_EQ(b->site, fmt::format("route:127.0.0.1:{}", rejecting->port())) << b->raw;
  EXPECT_EQ(b->mx_port, rejecting->port()) << b->raw;

  const Line* x = find(lines, "expired", "late@expire.test");
  EXPECT_EQ(x->message_id, expired);
  EXPECT_EQ(x->attempt, 1) << x->raw;
  EXPECT_EQ(x->reply_code / 100, 4) << x->raw;

  auto adm = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.type == "admin"; });
  EXPECT_EQ(adm->action, "suspend") << adm->raw;
  EXPECT_EQ(adm->domain, "down.test") << adm->raw;
  EXPECT_FALSE(adm->until.empty()) << adm->raw;

  EXPECT_TRUE(matches_schema({log_path()}, lines.size()));
}

TEST_F(DeliveryLog, SizeRotationLosesNoLine) {
  ServerConfig cfg;
  // A few lines per file: 30 messages make several rotations, and keep covers them all.
  cfg.extra_toml = log_toml("delivery_log_max_bytes = 2000\ndelivery_log_keep = 100\n");
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  std::set<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    std::string id =
        submit(fmt::format(R"({{"from":"a@example.test","to":["r{}@sink.test"],"subject":"s","text":"t"}})", i));
    ASSERT_FALSE(id.empty());
    ids.insert(id);
  }
  std::vector<Line> lines;
  auto count = [&](std::string_view type) {
    return std::count_if(lines.begin(), lines.end(), [&](const Line& l) { return l.type == type; });
  };
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    lines = read_lines(log_files());
    return count("delivered") >= 30;
  })) << "lines so far:" << dump(lines);
  const auto files = log_files();
  ASSERT_TRUE(fs::exists(fmt::format("{}.1", log_path().string()))) << "no rotation happened";
  EXPECT_GT(files.size(), 2u);
  // Exactly one accepted and one delivered line per message, across all files.
  std::map<std::string, int> accepted, delivered;
  for (const Line& l : lines) {
    if (l.type == "accepted") ++accepted[l.message_id];
    if (l.type == "delivered") ++delivered[l.message_id];
  }
  EXPECT_EQ(accepted.size(), ids.size());
  EXPECT_EQ(delivered.size(), ids.size());
  for (const std::string& id : ids) {
    EXPECT_EQ(accepted[id], 1) << id;
    EXPECT_EQ(delivered[id], 1) << id;
  }
  EXPECT_EQ(lines.size(), 60u) << dump(lines);
  // A rotated file is not cut mid-batch beyond the limit by more than one batch of lines.
  for (const fs::path& p : files) {
    if (p == log_path()) continue;
    EXPECT_LE(fs::file_size(p), 2000u + 4096u) << p;
  }
  EXPECT_TRUE(matches_schema(files, lines.size()));
}

TEST_F(DeliveryLog, Sigusr1ReopensAtTheOriginalPath) {
  ServerConfig cfg;
  cfg.extra_toml = log_toml();
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  const std::string first = submit(R"({"from":"a@example.test","to":["first@sink.test"],"subject":"s","text":"t"})");
  std::vector<Line> lines;
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    lines = read_lines({log_path()});
    return find(lines, "delivered", "first@sink.test") != nullptr;
  })) << dump(lines);

  // What logrotate does: rename, then signal.
  const fs::path moved = dir_.path() / "delivery.log.moved";
  fs::rename(log_path(), moved);
  ASSERT_EQ(::kill(server->process().pid(), SIGUSR1), 0);
  ASSERT_TRUE(wait_until(10s, 20ms, [&] { return fs::exists(log_path()); })) << "no fresh file after SIGUSR1";

  const std::string second = submit(R"({"from":"a@example.test","to":["second@sink.test"],"subject":"s","text":"t"})");
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    lines = read_lines({log_path()});
    return find(lines, "delivered", "second@sink.test") != nullptr;
  })) << dump(lines);
  auto old_lines = read_lines({moved});
  EXPECT_TRUE(find(old_lines, "delivered", "first@sink.test")) << dump(old_lines);
  EXPECT_FALSE(find(old_lines, "accepted", "second@sink.test")) << dump(old_lines);
  EXPECT_FALSE(find(lines, "accepted", "first@sink.test")) << dump(lines);
  EXPECT_TRUE(find(lines, "accepted", "second@sink.test")) << dump(lines);
  EXPECT_TRUE(server->process().running()) << "SIGUSR1 must not stop the server";
  EXPECT_TRUE(matches_schema({moved, log_path()}, old_lines.size() + lines.size()));
}

// Human log levels: [log] level = "debug" shows each recipient's outcome; --log-level wins
// over the file; a level that does not exist is a usage error.
TEST_F(DeliveryLog, LogLevelFromTheFileAndTheCommandLine) {
  ServerConfig cfg;
  cfg.extra_toml = "[log]\nlevel = \"debug\"\n";
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  const std::string id = submit(R"({"from":"a@example.test","to":["dbg@sink.test"],"subject":"s","text":"t"})");
  ASSERT_FALSE(id.empty());
  auto line = server->process().wait_for_line(fmt::format("message {} to dbg@sink.test: delivered", id), 30s);
  EXPECT_TRUE(line) << line.error();
  ASSERT_TRUE(server->stop());

  auto usage = run_command({ringpost_binary().string(), "serve", "--log-level", "loud"});
  ASSERT_TRUE(usage) << usage.error();
  EXPECT_EQ(usage->exit_code, 2) << usage->describe();

  // Same file (level = "debug"), but --log-level warn: no info, no debug lines.
  ASSERT_TRUE(wait_until(10s, 20ms, [&] { return !port_is_listening(server->port()); }));
  auto quiet = Process::spawn({ringpost_binary().string(), "serve", "--config", (dir_.path() / "ringpost.toml").string(),
                               "--log-level", "warn"},
                              dir_.path() / "ringpost-warn.log");
  ASSERT_TRUE(quiet) << quiet.error();
  auto listening = quiet->wait_for_line("listening on", 30s);
  ASSERT_TRUE(listening) << listening.error();
  const std::string id2 = submit(R"({"from":"a@example.test","to":["quiet@sink.test"],"subject":"s","text":"t"})");
  RingpostApi api(server->port());
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    auto st = api.status(id2);
    return st && !st->recipients.empty() && st->recipients[0].state == "delivered";
  }));
  const std::string out = quiet->output();
  EXPECT_EQ(out.find("[info]"), std::string::npos) << out;
  EXPECT_EQ(out.find("[debug]"), std::string::npos) << out;
}

// STARTTLS with a private Postfix: the delivered line names the protocol and cipher.
TEST_F(DeliveryLog, TlsDeliveryLogsVersionAndCipher) {
  if (auto why = interop::PostfixMx::unavailable_reason()) GTEST_SKIP() << *why;
  auto cert = interop::make_test_certificate(dir_.path(), {.common_name = "mx.postfix.test"});
  ASSERT_TRUE(cert) << cert.error();
  auto mx = interop::PostfixMx::start({.tls = *cert});
  ASSERT_TRUE(mx) << mx.error();
  auto ports = pick_free_ports(1);
  ASSERT_TRUE(ports);
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.domains = {{"postfix.test", (*mx)->endpoint(), "tls = \"opportunistic\"\n"}};
  cfg.extra_toml = log_toml();
  auto started = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(started) << started.error();
  server.emplace(std::move(*started));

  const std::string id = submit(R"({"from":"a@example.test","to":["tls@postfix.test"],"subject":"s","text":"t"})");
  std::vector<Line> lines;
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    lines = read_lines({log_path()});
    return find(lines, "delivered", "tls@postfix.test") || find(lines, "deferred", "tls@postfix.test");
  })) << dump(lines);
  const Line* d = find(lines, "delivered", "tls@postfix.test");
  ASSERT_TRUE(d) << dump(lines);
  EXPECT_EQ(d->message_id, id);
  EXPECT_EQ(d->tls_version.rfind("TLSv1.", 0), 0u) << d->raw;
  EXPECT_FALSE(d->tls_cipher.empty()) << d->raw;
  const std::string endpoint = (*mx)->endpoint();
  EXPECT_EQ(d->mx_ip, endpoint.substr(0, endpoint.rfind(':'))) << d->raw;
  ASSERT_TRUE((*mx)->wait_for_delivered(1)) << (*mx)->describe();
  EXPECT_TRUE(matches_schema({log_path()}, lines.size()));
}

}  // namespace
}  // namespace ringpost::it
