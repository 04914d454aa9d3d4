// Stored state against the real server (docs/security.md "Stored state"): with a small
// [limits] event_feed_max, GET /v1/events with a cursor that fell out of the feed gets 410
// cursor_expired naming the oldest valid cursor (which itself pages on), the status store's
// cap evicts finished messages, and both are counted in /metrics, read by the Prometheus
// client's parser. A webhook whose cursor fell out tells its receiver (a signed
// "cursor_expired" event, checked by the receiver's own HMAC code) and resumes.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

// ringpost_limit_hits_total{limit=...} as the Prometheus client's parser reads the page; -1
// when the sample is absent, nullopt (with the reason in `why`) when the page did not parse.
std::optional<double> limit_hits(const std::filesystem::path& dir, const std::string& page, const std::string& limit,
                                 std::string& why) {
  static int n = 0;
  const auto page_file = dir / fmt::format("metrics-{}.txt", ++n);
  std::ofstream(page_file, std::ios::binary) << page;
  auto p = Process::spawn({kPython3, (source_dir() / "parse_metrics.py").string(), page_file.string()},
                          dir / fmt::format("metrics-{}.json", n));
  if (!p || !wait_until(30s, 10ms, [&] { return !p->running(); })) {
    why = "parse_metrics.py did not run";
    return std::nullopt;
  }
  const std::string out = p->output();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array samples;
  if (parser.parse(out).get(root) || root["samples"].get(samples)) {
    why = "the Prometheus parser refused the page: " + out;
    return std::nullopt;
  }
  for (simdjson::dom::element s : samples) {
    std::string_view name, label;
    double v = 0;
    if (s.at(0).get(name) || name != "ringpost_limit_hits_total") continue;
    if (s.at(1)["limit"].get(label) || label != limit) continue;
    if (s.at(2).get(v)) continue;
    return v;
  }
  return -1.0;
}

std::string oldest_cursor_of(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view v;
  if (parser.parse(body).get(root) || root["error"]["oldest_cursor"].get(v)) return {};
  return std::string(v);
}

struct Page {
  std::vector<std::string> cursors;
  std::string next_cursor;
};

std::optional<Page> parse_page(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array events;
  std::string_view next;
  if (parser.parse(body).get(root) || root["events"].get(events) || root["next_cursor"].get(next)) return std::nullopt;
  Page p;
  p.next_cursor = std::string(next);
  for (simdjson::dom::element e : events) {
    std::string_view c;
    if (!e["cursor"].get(c)) p.cursors.emplace_back(c);
  }
  return p;
}

std::string id_of(const std::string& submit_body) { return submit_body.substr(submit_body.find("\"id\":\"") + 6, 26); }

class StoredState : public SinkServerTest {};

TEST_F(StoredState, AnExpiredCursorGets410AndEvictionsAreCounted) {
  ServerConfig cfg;
  cfg.extra_toml = "[limits]\nevent_feed_max = 100\nstatus_max_messages = 20\n";
  ASSERT_NO_FATAL_FAILURE(start_with_sink(cfg));
  HttpClient http(server->port());
  auto first = http.post_json("/v1/messages", to_json({"a@example.test", {"first@sink.test"}, "s", "t"}));
  ASSERT_TRUE(first && first->status == 202);
  const std::string first_id = id_of(first->body);
  auto start = http.get("/v1/events?limit=1");
  ASSERT_TRUE(start && start->status == 200) << (start ? start->body : start.error());
  const auto p0 = parse_page(start->body);
  ASSERT_TRUE(p0 && p0->cursors.size() == 1) << start->body;
  const std::string old_cursor = p0->cursors[0];  // "first"'s acceptance: the first event of all

  // 150 more messages: 300 more events (accepted, delivered), three times what the feed keeps.
  RingpostApi api(server->port());
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 150; ++i) batch.push_back({"a@example.test", {fmt::format("r{}@sink.test", i)}, "s", "t"});
  auto ids = api.submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink->message_count() >= 151; })) << sink->describe();

  // The events after old_cursor are gone: 410, never a page that silently skips them.
  auto gone = http.get("/v1/events?after=" + old_cursor);
  ASSERT_TRUE(gone);
  ASSERT_EQ(gone->status, 410) << gone->body;
  EXPECT_EQ(error_code_of(gone->body), "cursor_expired");
  const std::string oldest = oldest_cursor_of(gone->body);
  ASSERT_FALSE(oldest.empty()) << gone->body;
  EXPECT_NE(oldest, old_cursor);
  // ...also for a long poll, which must not wait first.
  auto polled = http.get("/v1/events?wait=10&after=" + old_cursor);
  ASSERT_TRUE(polled);
  EXPECT_EQ(polled->status, 410) << polled->body;

  // The oldest valid cursor is valid: it pages on from the oldest event kept.
  ASSERT_TRUE(wait_until(10s, 50ms, [&] {
    auto r = http.get("/v1/events?limit=1000&after=" + oldest);
    auto p = r && r->status == 200 ? parse_page(r->body) : std::nullopt;
    return p && p->cursors.size() >= 100;  // every delivered event applied: the feed is full
  }));
  auto resumed = http.get("/v1/events?limit=1000&after=" + oldest);
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->status, 200) << resumed->body;
  const auto page = parse_page(resumed->body);
  ASSERT_TRUE(page);
  ASSERT_FALSE(page->cursors.empty());
  EXPECT_NE(page->cursors.front(), oldest) << "the page starts after the cursor";
  // The feed itself may have dropped more since the 410; whatever the oldest is now, the
  // beginning is never expired.
  auto from_start = http.get("/v1/events?limit=5");
  ASSERT_TRUE(from_start);
  EXPECT_EQ(from_start->status, 200) << from_start->body;

  // The status store kept at most 20 finished messages (+1: the last one finished stays
  // until the next change); the first one is gone, answered like an unknown id.
  auto first_status = http.get("/v1/messages/" + first_id);
  ASSERT_TRUE(first_status);
  EXPECT_EQ(first_status->status, 404) << first_status->body;
  int kept = 0;
  for (const std::string& id : *ids) {
    auto st = http.get("/v1/messages/" + id);
    ASSERT_TRUE(st);
    if (st->status == 200) ++kept;
  }
  EXPECT_GE(kept, 1);
  EXPECT_LE(kept, 21);

  // Counted in /metrics once every delivered event is in: 302 events through a feed of 100;
  // 151 finished messages in a store of 20.
  std::string why;
  std::optional<double> feed_hits, status_hits;
  EXPECT_TRUE(wait_until(15s, 200ms, [&] {
    auto metrics = http.get("/metrics");
    if (!metrics || metrics->status != 200) return false;
    feed_hits = limit_hits(dir_.path(), metrics->body, "event_feed_max", why);
    status_hits = limit_hits(dir_.path(), metrics->body, "status_max_messages", why);
    return feed_hits && status_hits && *feed_hits >= 202.0 && *status_hits >= 130.0;
  })) << why << " event_feed_max hits: " << feed_hits.value_or(-2) << ", status_max_messages hits: "
      << status_hits.value_or(-2);
}

struct Post {
  std::string id;
  bool valid = false;
  int status = 0;
  std::vector<std::string> delivered;  // message ids
  bool gap = false;                    // a cursor_expired event
  std::string gap_cursor, gap_oldest, gap_resumed;
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
    if (e["valid"].get(p.valid) || e["status"].get(status) || e["id"].get(id)) continue;
    p.id = std::string(id);
    p.status = static_cast<int>(status);
    simdjson::dom::array events;
    if (!e["body"]["events"].get(events))
      for (simdjson::dom::element ev : events) {
        std::string_view type, v;
        if (ev["type"].get(type)) continue;
        if (type == "delivered" && !ev["message_id"].get(v)) p.delivered.emplace_back(v);
        if (type == "cursor_expired") {
          p.gap = true;
          if (!ev["cursor"].get(v)) p.gap_cursor = std::string(v);
          if (!ev["oldest_cursor"].get(v)) p.gap_oldest = std::string(v);
          if (!ev["resumed_after"].get(v)) p.gap_resumed = std::string(v);
        }
      }
    out.push_back(std::move(p));
  }
  return out;
}

class StoredStateWebhooks : public ServerTest {};

// The receiver is held (503) while its one batch waits and 300 more events go through a feed
// of 100: when it is back, it gets that batch, then a signed cursor_expired notice naming the
// cursor that fell out and the oldest one, then the events kept after it.
TEST_F(StoredStateWebhooks, AWebhookWhoseCursorFellOutIsToldAndResumes) {
  auto ports = pick_free_ports(3);
  ASSERT_TRUE(ports);
  const std::string secret = "whsec_cmluZ3Bvc3Qtd2ViaG9vay10ZXN0LWtleS0wMTIz";
  const auto log = dir_.path() / "webhook.jsonl";
  const auto hold = dir_.path() / "receiver-held";
  std::ofstream(hold) << "held\n";
  auto receiver = Process::spawn({kPython3, (source_dir() / "webhook_receiver.py").string(),
                                  std::to_string((*ports)[1]), secret, log.string(), "0", hold.string()},
                                 dir_.path() / "receiver.log");
  ASSERT_TRUE(receiver) << receiver.error();
  ASSERT_TRUE(receiver->wait_for_line("listening", 10s));
  auto sink = SmtpSink::start(dir_.path() / "sink", (*ports)[2]);
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.spool_dir = dir_.path() / "spool";
  cfg.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink->port())}};
  cfg.extra_toml = fmt::format(
      "[limits]\nevent_feed_max = 100\n\n[[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:{}/hooks\"\n"
      "secret = \"{}\"\nevents = [\"delivered\"]\n",
      (*ports)[1], secret);
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  RingpostApi api(server->port());
  auto first = api.submit({"a@example.test", {"first@sink.test"}, "s", "t"});
  ASSERT_TRUE(first) << first.error();
  auto held_batch = [&] {
    for (const Post& p : read_posts(log))
      if (p.status == 503 && !p.delivered.empty() && p.delivered.front() == *first) return true;
    return false;
  };
  ASSERT_TRUE(wait_until(30s, 50ms, held_batch)) << "the dispatcher never offered the first delivery";

  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 150; ++i) batch.push_back({"a@example.test", {fmt::format("r{}@sink.test", i)}, "s", "t"});
  auto ids = api.submit_batch(batch);
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink->message_count() >= 151; })) << sink->describe();
  ASSERT_TRUE(wait_until(10s, 50ms, [&] {
    auto st = api.stats();
    return st && st->delivered >= 151;
  }));
  std::filesystem::remove(hold);  // the receiver is back

  auto gap_post = [&]() -> std::optional<Post> {
    for (const Post& p : read_posts(log))
      if (p.gap && p.status == 200) return p;
    return std::nullopt;
  };
  ASSERT_TRUE(wait_until(60s, 100ms, [&] { return gap_post().has_value(); }))
      << "no cursor_expired notice reached the receiver; ringpost:\n" << server->process().output_tail();
  const Post gap = *gap_post();
  EXPECT_TRUE(gap.valid) << "the notice must be signed like every other POST";
  const auto posts = read_posts(log);
  // The held batch was taken first; its webhook-id names the cursor that then fell out.
  std::string held_id;
  for (const Post& p : posts)
    if (p.status == 200 && !p.delivered.empty() && p.delivered.front() == *first) held_id = p.id;
  ASSERT_FALSE(held_id.empty()) << "the held batch was never taken";
  EXPECT_EQ(held_id, "msg_crm_" + gap.gap_cursor);
  EXPECT_FALSE(gap.gap_oldest.empty());
  EXPECT_EQ(gap.gap_resumed, gap.gap_oldest);

  // Then the events kept after the oldest cursor: the last deliveries of the batch.
  std::set<std::string> after_gap;
  ASSERT_TRUE(wait_until(30s, 100ms, [&] {
    after_gap.clear();
    bool seen_gap = false;
    for (const Post& p : read_posts(log)) {
      if (p.gap && p.status == 200) seen_gap = true;
      if (seen_gap && p.status == 200 && p.valid) after_gap.insert(p.delivered.begin(), p.delivered.end());
    }
    return after_gap.size() >= 100;  // the feed keeps 100 events: the last 100 deliveries
  })) << after_gap.size() << " deliveries after the notice";
  const std::set<std::string> batch_ids(ids->begin(), ids->end());
  for (const std::string& id : after_gap) EXPECT_TRUE(batch_ids.count(id)) << id;
  EXPECT_LT(after_gap.size(), batch_ids.size()) << "a feed of 100 cannot have kept 150 deliveries";
  EXPECT_NE(server->process().output().find("fell out of the event feed"), std::string::npos)
      << "the gap must be logged as an error";
  // The cursor file moved past the gap.
  std::string saved;
  std::ifstream(cfg.spool_dir / "webhook-crm.cursor") >> saved;
  EXPECT_FALSE(saved.empty());
  EXPECT_NE(saved, gap.gap_cursor);
}

}  // namespace
}  // namespace ringpost::it
