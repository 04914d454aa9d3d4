// Reclaim keeps the spool bounded without forgetting anything owed: finished segments are
// deleted (checked on the directory itself), a long deferral pinning an old segment is copied
// forward so that segment can go, and a restart afterwards neither resends what the sink
// already has nor loses the deferral's state.
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/delivery_barrier.h"
#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/spool_files.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SpoolReclaim : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto ports = pick_free_ports(3);
    ASSERT_TRUE(ports);
    auto sink = SmtpSink::start(dir_.path() / "sink", (*ports)[1]);
    ASSERT_TRUE(sink) << sink.error();
    sink_.emplace(std::move(*sink));
    cfg_.http_port = (*ports)[0];
    cfg_.spool_dir = dir_.path() / "spool";
    cfg_.retry = {"1h"};
    cfg_.domains = {{"sink.test", fmt::format("127.0.0.1:{}", sink_->port())},
                    {"slow.test", fmt::format("127.0.0.1:{}", (*ports)[2])}};  // nothing listens
    // 64 KiB segments: a few thousand messages make dozens of them.
    cfg_.extra_toml = "[spool]\nsegment_bytes = 65536\n";
    cfg_.server_toml = barrier_admin_toml();  // settle_site reads the domain's queue
  }

  // kCount ~1 KiB messages to sink.test, in batches; returns once the sink has them all.
  void deliver_to_sink(RingpostApi& api, int count) {
    for (int b = 0; b < count / 250; ++b) {
      std::vector<OutgoingMessage> batch;
      for (int i = 0; i < 250; ++i)
        batch.push_back({"agent@example.test", {fmt::format("r{}-{}@sink.test", b, i)}, fmt::format("m {} {}", b, i),
                         std::string(1000, 'a' + (i % 26))});
      auto ids = api.submit_batch(batch);
      ASSERT_TRUE(ids) << ids.error();
    }
    ASSERT_TRUE(wait_until(60s, 50ms, [&] { return sink_->message_count() >= count; })) << sink_->describe();
  }

  ServerConfig cfg_;
  std::optional<SmtpSink> sink_;
};

TEST_F(SpoolReclaim, FinishedSegmentsAreDeletedAndNothingIsSentAgainAfterRestart) {
  constexpr int kCount = 3000;
  auto server = RingpostServer::start(dir_.path(), cfg_);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());
  deliver_to_sink(api, kCount);

  // ~3.5 MB went through 64 KiB segments; once everything is delivered only the segment being
  // written (and perhaps the one before it, until its last outcome lands) may remain.
  SpoolFiles files;
  EXPECT_TRUE(wait_until(20s, 50ms, [&] {
    files = spool_files(cfg_.spool_dir);
    return files.names.size() <= 2;
  })) << files.names.size() << " segment files left, " << files.bytes << " bytes";
  EXPECT_LT(files.bytes, 3u * 65536 + 65536) << "the spool kept what was finished";

  ASSERT_TRUE(server->stop());
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  RingpostApi after(server->port());
  auto stats = after.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->queued + stats->deferred, 0) << "a finished message came back as unfinished";
  // Barrier: recovery queues for sink.test before the server listens, so ahead of the sentinel
  // on the same FIFO path to the site; a re-queued message's body is read from the spool and
  // may let the sentinel pass it, which is why the site is then drained too (delivery_barrier.h).
  ASSERT_TRUE(settle_site(server->port(), "sink.test"));
  EXPECT_EQ(sink_->message_count(), kCount + 1) << "something was delivered twice after the restart";
}

TEST_F(SpoolReclaim, ALongDeferralIsCopiedForwardAndKeepsItsStateAcrossRestart) {
  constexpr int kCount = 3000;
  auto server = RingpostServer::start(dir_.path(), cfg_);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());

  auto slow = api.submit({"agent@example.test", {"late@slow.test"}, "waits an hour", "for a host that is down"});
  ASSERT_TRUE(slow) << slow.error();
  ASSERT_TRUE(wait_until(10s, 20ms, [&] {
    auto st = api.status(*slow);
    return st && st->recipients.size() == 1 && st->recipients[0].state == "deferred";
  }));
  const std::string first_segment = *spool_files(cfg_.spool_dir).names.begin();

  deliver_to_sink(api, kCount);
  // The deferred message is the only unfinished one in the first segment: it is copied
  // forward, and the first segment (and everything it pinned) is deleted.
  SpoolFiles files;
  ASSERT_TRUE(wait_until(20s, 50ms, [&] {
    files = spool_files(cfg_.spool_dir);
    return !files.names.count(first_segment) && files.names.size() <= 3;
  })) << "first segment " << first_segment << (files.names.count(first_segment) ? " still there; " : " gone; ")
      << files.names.size() << " segment files";

  ASSERT_TRUE(server->stop());
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();
  RingpostApi after(server->port());
  auto st = after.status(*slow);
  ASSERT_TRUE(st) << st.error();
  ASSERT_EQ(st->recipients.size(), 1u);
  EXPECT_EQ(st->recipients[0].state, "deferred") << summarize(*st);
  EXPECT_EQ(st->recipients[0].attempts, 1) << "the copy forgot the attempt already made: " << summarize(*st);
  auto raw = after.http().get("/v1/messages/" + *slow);
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->body.find("\"recovered\":true"), std::string::npos) << raw->body;
  auto stats = after.stats();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->queued + stats->deferred, 1);
  // Barrier: recovery queues for sink.test before the server listens, so ahead of the sentinel
  // on the same FIFO path to the site; a re-queued message's body is read from the spool and
  // may let the sentinel pass it, which is why the site is then drained too (delivery_barrier.h).
  // (The deferred slow.test message waits for its 1 h retry on another site.)
  ASSERT_TRUE(settle_site(server->port(), "sink.test"));
  EXPECT_EQ(sink_->message_count(), kCount + 1) << "something was delivered twice after the restart";
}

// status_retention: a finished message's status is answered for that long, then forgotten
// (404), while an unfinished one is kept however old it is.
TEST_F(SpoolReclaim, FinishedStatusIsKeptForStatusRetentionThenForgotten) {
  cfg_.extra_toml = "[spool]\nstatus_retention = \"2s\"\n";
  auto server = RingpostServer::start(dir_.path(), cfg_);
  ASSERT_TRUE(server) << server.error();
  RingpostApi api(server->port());
  auto done = api.submit({"agent@example.test", {"x@sink.test"}, "delivered", "soon forgotten"});
  ASSERT_TRUE(done) << done.error();
  auto pending = api.submit({"agent@example.test", {"y@slow.test"}, "deferred", "kept"});
  ASSERT_TRUE(pending) << pending.error();
  ASSERT_TRUE(wait_until(10s, 20ms, [&] {
    auto st = api.status(*done);
    return st && st->recipients[0].state == "delivered";
  }));
  auto just_after = api.http().get("/v1/messages/" + *done);
  ASSERT_TRUE(just_after);
  EXPECT_EQ(just_after->status, 200) << "forgotten at once";
  EXPECT_TRUE(wait_until(10s, 100ms, [&] {
    auto r = api.http().get("/v1/messages/" + *done);
    return r && r->status == 404;
  })) << "still answered long after status_retention";
  auto kept = api.status(*pending);
  ASSERT_TRUE(kept) << kept.error();
  EXPECT_EQ(kept->recipients[0].state, "deferred");
}

}  // namespace
}  // namespace ringpost::it
