// A full disk must not break the promise either way: while the spool cannot be written,
// submissions get 503 spool_unavailable with a Retry-After (never a 202 for a message that is
// not on disk), what was accepted before stays readable and deliverable, and once space
// returns the server accepts again by itself. The spool lives on a 4 MiB tmpfs that the test
// fills with a file of its own.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <tl/expected.hpp>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/wait.h"
#include "tests/interop/require_server.h"
#include "tests/spool/spool_support.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SpoolDiskFull : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    mnt_ = dir_ / "spool-tmpfs";
    std::error_code ec;
    fs::create_directories(mnt_, ec);
    ASSERT_FALSE(ec) << "mkdir " << mnt_ << ": " << ec.message();
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755") != 0) {
      const std::string why = fmt::format("mount -t tmpfs -o size=4m tmpfs {}: {}", mnt_.string(), std::strerror(errno));
      if (::ringpost::interop::in_ci()) FAIL() << "the disk-full test must run in CI: " << why;
      GTEST_SKIP() << "cannot mount a small tmpfs (needs root / CAP_SYS_ADMIN): " << why;
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (!mounted_) return;
    if (::umount2(mnt_.c_str(), 0) != 0) {
      // Something still holds a file there (a server that did not exit): detach it anyway,
      // so the temp directory can be removed and no mount outlives the test.
      ADD_FAILURE() << "umount " << mnt_ << ": " << std::strerror(errno) << "; detaching";
      ::umount2(mnt_.c_str(), MNT_DETACH);
    }
    mounted_ = false;
  }

  fs::path mnt_;
  bool mounted_ = false;
};

// Writes `file` until the filesystem refuses (ENOSPC), in shrinking chunks so that no whole
// block stays free. Bounded: a 4 MiB tmpfs needs ~64 chunks of 64 KiB.
tl::expected<uint64_t, std::string> fill_filesystem(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(fmt::format("open {}: {}", file.string(), std::strerror(errno)));
  uint64_t total = 0;
  const std::string chunk(65536, 'F');
  for (std::size_t size : {std::size_t(65536), std::size_t(4096), std::size_t(1)}) {
    for (int i = 0; i < 200000; ++i) {
      ssize_t n = ::write(fd, chunk.data(), size);
      if (n > 0) {
        total += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == ENOSPC) break;
      int e = errno;
      ::close(fd);
      return tl::unexpected(fmt::format("write {}: {}", file.string(), std::strerror(e)));
    }
  }
  ::fsync(fd);
  ::close(fd);
  return total;
}

OutgoingMessage numbered(std::string_view tag, int k) {
  // Fixed width: every message of the full period has the same size.
  return OutgoingMessage{"sender@example.test", {fmt::format("{}-{:04}@full.test", tag, k)}, fmt::format("{} {:04}", tag, k),
                         fmt::format("body of {} {:04}", tag, k)};
}

// The 503 contract: code spool_unavailable, Retry-After in whole seconds >= 1.
void expect_spool_unavailable(const HttpResponse& r, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_code_of(r.body).value_or("<none>"), "spool_unavailable") << r.body;
  const std::string ra = r.header("retry-after");
  int seconds = -1;
  auto [end, ec] = std::from_chars(ra.data(), ra.data() + ra.size(), seconds);
  EXPECT_TRUE(!ra.empty() && ec == std::errc() && end == ra.data() + ra.size() && seconds >= 1)
      << "Retry-After must be an integer number of seconds >= 1, got '" << ra << "'";
}

TEST_F(SpoolDiskFull, SubmissionsGet503WithRetryAfterAndResumeWhenSpaceReturns) {
  constexpr int kBefore = 20, kAfter = 20;
  auto ports = pick_free_ports(3);
  ASSERT_TRUE(ports);
  const uint16_t sink_port = (*ports)[1];  // nobody listens here until the second server runs
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.spool_dir = mnt_;
  cfg.retry = {"1h"};
  cfg.domains = {{"full.test", fmt::format("127.0.0.1:{}", sink_port)}};
  // Segments well under the 4 MiB filesystem, in case the writer preallocates them.
  cfg.extra_toml = "[spool]\nsegment_bytes = 1048576\n";
  fs::create_directories(dir_ / "first");
  fs::create_directories(dir_ / "second");
  auto server = RingpostServer::start(dir_ / "first", cfg);
  ASSERT_TRUE(server) << server.error();

  std::map<std::string, std::string> owed;  // recipient -> id, everything answered 202
  std::set<std::string> refused;            // recipients answered 503
  RingpostApi api(server->port());
  for (int k = 0; k < kBefore; ++k) {
    auto m = numbered("before", k);
    auto id = api.submit(m);
    ASSERT_TRUE(id) << id.error();
    owed[m.to[0]] = *id;
  }
  std::vector<std::string> before_ids;
  for (const auto& [r, id] : owed) before_ids.push_back(id);

  const fs::path filler = mnt_ / "filler";
  auto filled = fill_filesystem(filler);
  ASSERT_TRUE(filled) << filled.error();
  struct statvfs vfs {};
  ::statvfs(mnt_.c_str(), &vfs);
  std::fprintf(stderr, "[ringpost-spool] filler %llu bytes; %llu blocks of %lu bytes free\n",
               static_cast<unsigned long long>(*filled), static_cast<unsigned long long>(vfs.f_bavail), vfs.f_bsize);

  // The spool file's last, partly used page may still take a message or two: those are
  // accepted honestly (they are on disk) and owed like any other. Then it must refuse.
  int k = 0, accepted_while_full = 0;
  std::optional<HttpResponse> first_503;
  for (; k < 50 && !first_503; ++k) {
    auto m = numbered("full", k);
    auto r = api.http().post_json("/v1/messages", to_json(m));
    ASSERT_TRUE(r) << r.error();
    if (r->status == 202) {
      auto id = spool_it::id_of(r->body);
      ASSERT_TRUE(id) << r->body;
      owed[m.to[0]] = *id;
      ++accepted_while_full;
    } else {
      refused.insert(m.to[0]);
      first_503 = *r;
    }
  }
  ASSERT_TRUE(first_503) << "50 submissions after the filesystem filled up were all accepted";
  std::fprintf(stderr, "[ringpost-spool] %d submissions accepted after the fill, then %d: %s (Retry-After: %s)\n",
               accepted_while_full, first_503->status, first_503->body.c_str(), first_503->header("retry-after").c_str());
  expect_spool_unavailable(*first_503, "first refusal");
  for (int i = 0; i < 3; ++i, ++k) {
    auto m = numbered("full", k);
    auto r = api.http().post_json("/v1/messages", to_json(m));
    ASSERT_TRUE(r) << r.error();
    if (r->status == 202) {
      owed[m.to[0]] = spool_it::id_of(r->body).value_or("?");
    } else {
      refused.insert(m.to[0]);
    }
    expect_spool_unavailable(*r, fmt::format("single submission {} while full", i));
  }
  {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < 5; ++i, ++k) batch.push_back(numbered("full", k));
    auto r = api.http().post_json("/v1/messages/batch", batch_json(batch));
    ASSERT_TRUE(r) << r.error();
    if (r->status != 202)
      for (const auto& m : batch) refused.insert(m.to[0]);
    expect_spool_unavailable(*r, "batch while full");
  }

  // Meanwhile what was accepted stays readable.
  int unreadable = 0;
  std::string first_bad;
  for (const auto& id : before_ids) {
    auto st = api.status(id);
    if (!st && unreadable++ == 0) first_bad = st.error();
  }
  EXPECT_EQ(unreadable, 0) << "accepted messages unreadable while the disk is full, first: " << first_bad;
  auto stats_body = api.http().get("/v1/stats");
  ASSERT_TRUE(stats_body) << stats_body.error();
  auto sp = spool_it::spool_stats_of(stats_body->body);
  EXPECT_TRUE(sp && sp->write_errors >= 1) << "stats should count spool write errors: " << stats_body->body;

  // Space returns; no restart, no operator: the next submissions succeed.
  ASSERT_TRUE(fs::remove(filler));
  bool resumed = false;
  int refused_after_free = 0;
  for (int i = 0; i < 100 && !resumed; ++i) {
    auto m = numbered("after", 0);
    auto r = api.http().post_json("/v1/messages", to_json(m));
    ASSERT_TRUE(r) << r.error();
    if (r->status == 202) {
      auto id = spool_it::id_of(r->body);
      ASSERT_TRUE(id) << r->body;
      owed[m.to[0]] = *id;
      resumed = true;
    } else {
      ++refused_after_free;
      std::this_thread::sleep_for(100ms);
    }
  }
  std::fprintf(stderr, "[ringpost-spool] after the filler was removed: %d refusals before the first 202\n",
               refused_after_free);
  ASSERT_TRUE(resumed) << "still refusing 10 s after space returned";
  for (int i = 1; i < kAfter / 2; ++i) {
    auto m = numbered("after", i);
    auto id = api.submit(m);
    ASSERT_TRUE(id) << id.error();
    owed[m.to[0]] = *id;
  }
  {
    std::vector<OutgoingMessage> batch;
    for (int i = kAfter / 2; i < kAfter; ++i) batch.push_back(numbered("after", i));
    auto ids = api.submit_batch(batch);
    ASSERT_TRUE(ids) << ids.error();
    ASSERT_EQ(ids->size(), batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) owed[batch[i].to[0]] = (*ids)[i];
  }
  EXPECT_TRUE(server->stop(30s)) << "did not exit on SIGTERM";

  // A new process over the same spool, now routed to a running sink: everything owed arrives.
  auto sink = SmtpSink::start(dir_ / "sink", sink_port);
  ASSERT_TRUE(sink) << sink.error();
  ServerConfig cfg2 = cfg;
  cfg2.http_port = (*ports)[2];
  cfg2.retry = {"1s"};
  auto second = RingpostServer::start(dir_ / "second", cfg2);
  ASSERT_TRUE(second) << second.error();
  std::map<std::string, int> seen;
  const bool arrived = wait_until(60s, 250ms, [&] {
    seen = spool_it::sink_recipient_counts(*sink);
    return std::all_of(owed.begin(), owed.end(), [&](const auto& kv) { return seen.count(kv.first) > 0; });
  });
  int missing = 0, refused_delivered = 0, duplicates = 0;
  std::string first_missing;
  for (const auto& [r, id] : owed) {
    auto it = seen.find(r);
    if (it == seen.end()) {
      if (missing++ == 0) first_missing = fmt::format("{} (id {})", r, id);
    } else {
      duplicates += it->second - 1;
    }
  }
  for (const auto& r : refused) refused_delivered += seen.count(r) ? 1 : 0;
  std::fprintf(stderr, "[ringpost-spool] %zu owed, %zu refused; at the sink: %d missing, %d duplicates, %d refused ones\n",
               owed.size(), refused.size(), missing, duplicates, refused_delivered);
  EXPECT_TRUE(arrived) << sink->describe() << "\nsecond server log tail:\n" << second->process().output_tail();
  EXPECT_EQ(missing, 0) << "acknowledged but never delivered, first: " << first_missing;
  EXPECT_EQ(refused_delivered, 0) << "messages answered 503 (\"nothing was accepted\") were delivered";
  EXPECT_EQ(duplicates, 0);
  EXPECT_TRUE(second->stop(30s));
}

}  // namespace
}  // namespace ringpost::it
