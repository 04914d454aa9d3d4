// GET /metrics against the real server, read by the Prometheus client's own parser
// (parse_metrics.py): an API key submits mail that is delivered (Postfix smtp-sink), bounced
// (a scripted server answering 550) and deferred (down.test, where nobody listens), and every
// counter must equal what the test sent, per key and per site. Far-side checks come first
// (the sink's message count, the API's per-recipient states), the page's values after.
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/scripted_smtp.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

// A fixed token and its SHA-256 (printf %s TOKEN | sha256sum): the config holds only the hash.
constexpr const char* kToken = "rp_metrics_test_token_0123456789abcdef";
constexpr const char* kTokenSha256 = "2ccc710ce7697b01acd97636683d45db4a3453b4064c5b9677ab628b518b0d9b";
constexpr const char* kKeyName = "metrics-agent";

// One scrape as the Prometheus parser read it.
struct Scrape {
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram
  struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  std::vector<Sample> samples;

  // The value of the one sample with this name whose labels include `match`; -1 if none.
  double value(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      if (std::all_of(match.begin(), match.end(), [&](const auto& kv) {
            auto it = s.labels.find(kv.first);
            return it != s.labels.end() && it->second == kv.second;
          }))
        return s.value;
    }
    return -1;
  }
  // Sum over every sample with this name whose labels include `match`.
  double sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const Sample& s : samples)
      if (s.name == name && std::all_of(match.begin(), match.end(), [&](const auto& kv) {
            auto it = s.labels.find(kv.first);
            return it != s.labels.end() && it->second == kv.second;
          }))
        total += s.value;
    return total;
  }
};

// Writes `page` to a file, runs parse_metrics.py on it, and reads back its JSON.
tl::expected<Scrape, std::string> parse_page(const std::filesystem::path& dir, const std::string& page, int n) {
  const auto page_file = dir / fmt::format("metrics-{}.txt", n);
  std::ofstream(page_file, std::ios::binary) << page;
  auto p = Process::spawn({kPython3, (source_dir() / "parse_metrics.py").string(), page_file.string()},
                          dir / fmt::format("metrics-{}.json", n));
  if (!p) return tl::make_unexpected(p.error());
  if (!wait_until(30s, 10ms, [&] { return !p->running(); })) return tl::make_unexpected("parser did not finish");
  const std::string out = p->output();
  if (!p->wait_status() || !WIFEXITED(*p->wait_status()) || WEXITSTATUS(*p->wait_status()) != 0)
    return tl::make_unexpected(fmt::format("the Prometheus parser refused the page ({}): {}", p->describe_exit(), out));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object families;
  simdjson::dom::array samples;
  if (parser.parse(out).get(root) || root["families"].get(families) || root["samples"].get(samples))
    return tl::make_unexpected("parser output is not the expected JSON: " + out);
  Scrape s;
  for (auto field : families) {
    std::string_view type;
    if (field.value.get(type)) return tl::make_unexpected("bad family type in: " + out);
    s.types[std::string(field.key)] = std::string(type);
  }
  for (simdjson::dom::element e : samples) {
    Scrape::Sample smp;
    std::string_view name;
    simdjson::dom::object labels;
    if (e.at(0).get(name) || e.at(1).get(labels)) return tl::make_unexpected("bad sample in: " + out);
    smp.name = std::string(name);
    for (auto l : labels) {
      std::string_view v;
      if (l.value.get(v)) return tl::make_unexpected("bad label in: " + out);
      smp.labels[std::string(l.key)] = std::string(v);
    }
    simdjson::dom::element v = e.at(2);
    double d = 0;
    if (v.is_string()) d = std::numeric_limits<double>::infinity();  // "+Inf", as the script spells it
    else if (v.get(d)) return tl::make_unexpected("bad value in: " + out);
    smp.value = d;
    s.samples.push_back(std::move(smp));
  }
  return s;
}

class Metrics : public SinkServerTest {};

TEST_F(Metrics, CountersMatchWhatWasSent) {
  auto ports = pick_free_ports(1);
  ASSERT_TRUE(ports);
  auto reject = ScriptedSmtp::start(dir_ / "scripted", (*ports)[0], {"reject"});
  ASSERT_TRUE(reject) << reject.error();
  ServerConfig cfg;
  // Each deferred recipient is tried once during the test: the next try is an hour away.
  cfg.retry = {"1h"};
  cfg.domains = {{"bounce.test", fmt::format("127.0.0.1:{}", reject->port())}};
  cfg.extra_toml = fmt::format("[[keys]]\nname = \"{}\"\nsha256 = \"{}\"\n", kKeyName, kTokenSha256);
  cfg.server_toml = "admin_token = \"metrics-admin-token\"\n";
  start_with_sink(cfg, true);
  ASSERT_FALSE(HasFatalFailure());
  std::string down_route;
  for (const DomainRoute& d : server->config().domains)
    if (d.domain == "down.test") down_route = d.route;
  ASSERT_FALSE(down_route.empty());
  const std::string sink_site = fmt::format("route:127.0.0.1:{}", sink->port());
  const std::string bounce_site = fmt::format("route:127.0.0.1:{}", reject->port());
  const std::string down_site = "route:" + down_route;

  RingpostApi api(server->port());
  api.http().set_header("Authorization", std::string("Bearer ") + kToken);
  // 5 messages with 6 recipients delivered, 2 bounced, 3 deferred: 10 requests, 11 recipients.
  std::vector<std::string> ids;
  auto submit = [&](std::vector<std::string> to) {
    auto id = api.submit({"agent@example.test", std::move(to), "metrics", "hello"});
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
  };
  for (int i = 0; i < 4; ++i) submit({fmt::format("r{}@sink.test", i)});
  submit({"x@sink.test", "y@sink.test"});
  for (int i = 0; i < 2; ++i) submit({fmt::format("b{}@bounce.test", i)});
  for (int i = 0; i < 3; ++i) submit({fmt::format("d{}@down.test", i)});
  ASSERT_FALSE(HasFatalFailure());

  // Far side first: the sink got its five messages; the API shows every other recipient
  // bounced or deferred.
  ASSERT_TRUE(wait_until(30s, 50ms, [&] { return sink->message_count() >= 5; }))
      << "sink has " << sink->message_count() << " messages";
  std::string last;
  ASSERT_TRUE(wait_until(30s, 50ms, [&] {
    for (std::size_t i = 5; i < ids.size(); ++i) {
      auto st = api.status(ids[i]);
      if (!st || st->recipients.size() != 1) return false;
      last = summarize(*st);
      if (st->recipients[0].state != (i < 7 ? "bounced" : "deferred")) return false;
    }
    return true;
  })) << "last status: " << last;

  // With keys configured /metrics names them all, so it needs an admin identity (docs/security.md):
  // refused without one, scraped with the admin token.
  HttpClient anon(server->port());
  auto refused = anon.get("/metrics");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401) << refused->body;
  anon.set_header("Authorization", "Bearer metrics-admin-token");
  Scrape m;
  std::string page, why;
  int scrapes = 0;
  // Shard-side numbers (connections, gauges) are published on the shards' own ticks: poll
  // until the far-side totals are all visible, then check everything on that one scrape.
  bool settled = wait_until(15s, 100ms, [&] {
    auto r = anon.get("/metrics");
    if (!r) return why = r.error(), false;
    if (r->status != 200) return why = fmt::format("status {}: {}", r->status, r->body), false;
    EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    page = r->body;
    auto s = parse_page(dir_.path(), page, ++scrapes);
    if (!s) return why = s.error(), false;
    m = std::move(*s);
    return m.value("ringpost_recipient_outcomes_total", {{"site", sink_site}, {"outcome", "delivered"}}) == 6 &&
           m.value("ringpost_connections_failed_total", {{"site", down_site}}) >= 1 &&
           m.value("ringpost_connections_open", {{"site", down_site}}) == 0 &&
           m.value("ringpost_site_queue_depth", {{"site", sink_site}}) == 0;
  });
  ASSERT_TRUE(settled) << why << "\n" << page;

  // Families and their types, as the parser read them (counters lose "_total" there).
  EXPECT_EQ(m.types["ringpost_messages_accepted"], "counter");
  EXPECT_EQ(m.types["ringpost_recipient_outcomes"], "counter");
  EXPECT_EQ(m.types["ringpost_queue_depth"], "gauge");
  EXPECT_EQ(m.types["ringpost_connections_open"], "gauge");
  EXPECT_EQ(m.types["ringpost_submit_latency_seconds"], "histogram");
  EXPECT_EQ(m.types["ringpost_delivery_latency_seconds"], "histogram");
  EXPECT_EQ(m.types["ringpost_spool_sync_seconds"], "histogram");
  EXPECT_EQ(m.types["ringpost_shard_busy_seconds"], "counter");

  // By key.
  EXPECT_EQ(m.value("ringpost_messages_accepted_total", {{"key", kKeyName}}), 10) << page;
  EXPECT_EQ(m.value("ringpost_recipients_accepted_total", {{"key", kKeyName}}), 11) << page;
  EXPECT_EQ(m.value("ringpost_key_recipient_outcomes_total", {{"key", kKeyName}, {"outcome", "delivered"}}), 6);
  EXPECT_EQ(m.value("ringpost_key_recipient_outcomes_total", {{"key", kKeyName}, {"outcome", "bounced"}}), 2);
  EXPECT_EQ(m.value("ringpost_key_recipient_outcomes_total", {{"key", kKeyName}, {"outcome", "deferred"}}), 3);
  EXPECT_EQ(m.value("ringpost_key_recipient_outcomes_total", {{"key", kKeyName}, {"outcome", "expired"}}), 0);
  EXPECT_EQ(m.sum("ringpost_messages_accepted_total"), 10) << "no other key (or \"none\") counted anything";

  // By site: each outcome where the mail went, and nowhere else.
  EXPECT_EQ(m.value("ringpost_recipient_outcomes_total", {{"site", sink_site}, {"outcome", "delivered"}}), 6);
  EXPECT_EQ(m.value("ringpost_recipient_outcomes_total", {{"site", bounce_site}, {"outcome", "bounced"}}), 2);
  EXPECT_EQ(m.value("ringpost_recipient_outcomes_total", {{"site", down_site}, {"outcome", "deferred"}}), 3);
  EXPECT_EQ(m.sum("ringpost_recipient_outcomes_total"), 11) << page;
  EXPECT_EQ(m.sum("ringpost_recipient_outcomes_total", {{"site", "other"}}), 0);

  // Queue: the three deferred recipients are all that is not final.
  EXPECT_EQ(m.value("ringpost_queue_depth"), 3);

  // Connections and replies, by site.
  EXPECT_GE(m.value("ringpost_connections_opened_total", {{"site", sink_site}}), 1);
  EXPECT_EQ(m.value("ringpost_connections_failed_total", {{"site", sink_site}}), 0);
  EXPECT_GE(m.value("ringpost_connections_opened_total", {{"site", bounce_site}}), 1);
  EXPECT_GE(m.value("ringpost_connections_opened_total", {{"site", down_site}}), 1);
  EXPECT_EQ(m.value("ringpost_connections_opened_total", {{"site", down_site}}),
            m.value("ringpost_connections_failed_total", {{"site", down_site}}))
      << "every connection to a closed port fails";
  // Five transactions each got at least a 2xx to MAIL, RCPT and the end of the message.
  EXPECT_GE(m.value("ringpost_smtp_replies_total", {{"site", sink_site}, {"class", "2xx"}}), 15);
  EXPECT_EQ(m.value("ringpost_smtp_replies_total", {{"site", sink_site}, {"class", "5xx"}}), 0);
  EXPECT_GE(m.value("ringpost_smtp_replies_total", {{"site", bounce_site}, {"class", "5xx"}}), 2);
  EXPECT_EQ(m.sum("ringpost_smtp_replies_total", {{"site", down_site}}), 0) << "nobody answered there";

  // Histograms: one submit latency per 202, one delivery latency per delivered recipient.
  EXPECT_EQ(m.value("ringpost_submit_latency_seconds_count"), 10);
  EXPECT_EQ(m.value("ringpost_submit_latency_seconds_bucket", {{"le", "+Inf"}}), 10);
  EXPECT_GT(m.value("ringpost_submit_latency_seconds_sum"), 0);
  EXPECT_EQ(m.value("ringpost_delivery_latency_seconds_count"), 6);
  // Every accepted request needed an fdatasync; group commit may have shared some.
  EXPECT_GE(m.value("ringpost_spool_sync_seconds_count"), 1);
  EXPECT_LE(m.value("ringpost_spool_sync_seconds_count"), 10) << "more syncs than accepting requests";
  EXPECT_GT(m.value("ringpost_spool_bytes"), 0);

  // Per shard: two shards configured, both looping and submitting.
  for (const char* shard : {"0", "1"}) {
    EXPECT_GT(m.value("ringpost_shard_busy_seconds_total", {{"shard", shard}}), 0) << shard;
    EXPECT_GT(m.value("ringpost_shard_io_uring_submissions_total", {{"shard", shard}}), 0) << shard;
  }
  EXPECT_GT(m.value("ringpost_front_io_uring_submissions_total"), 0);

  // Counters never go down between scrapes.
  auto again = anon.get("/metrics");
  ASSERT_TRUE(again && again->status == 200);
  auto m2 = parse_page(dir_.path(), again->body, ++scrapes);
  ASSERT_TRUE(m2) << m2.error();
  EXPECT_GE(m2->value("ringpost_shard_busy_seconds_total", {{"shard", "0"}}),
            m.value("ringpost_shard_busy_seconds_total", {{"shard", "0"}}));
  EXPECT_EQ(m2->value("ringpost_messages_accepted_total", {{"key", kKeyName}}), 10);

  // Only GET.
  auto post = anon.post_json("/metrics", "{}");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

}  // namespace
}  // namespace ringpost::it
