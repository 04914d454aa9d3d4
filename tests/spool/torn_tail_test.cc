// A crash can leave the last spool segment cut anywhere. Cut a copy of a real spool at random
// offsets and start a server on each copy: it must start, keep every message whose ACCEPT
// record lies wholly before the cut, forget the one cut in half, and say that it found a torn
// tail. Which records lie where is computed here from the file's framing, not taken from
// ringpost's reader.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"
#include "tests/spool/spool_fixture.h"
#include "tests/spool/spool_support.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_F(SpoolCrash, TornTailAtRandomOffsetsRecoversEveryCompleteRecord) {
  constexpr int kMessages = 400, kPerBatch = 10, kCuts = 6;
  const uint64_t seed = spool_it::test_seed("SpoolCrash.TornTail");
  std::mt19937_64 rng(seed);

  auto ports = pick_free_ports(3);
  ASSERT_TRUE(ports);
  const uint16_t dead_port = (*ports)[1];  // nothing listens: every attempt is refused, all stay queued
  // A listener that never accepts: connections complete in the kernel's backlog and then wait
  // for a greeting that never comes (greeting_timeout 5 min), so messages routed here get no
  // OUTCOME record before the kill. Without it the refused attempts' OUTCOMEs tend to come
  // after all the ACCEPTs and can fill the whole last segment, leaving no ACCEPT to cut.
  const uint16_t silent_port = (*ports)[2];
  int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } close_silent{silent};
  {
    int one = 1;
    ::setsockopt(silent, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(silent_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(silent, 1024), 0) << std::strerror(errno);
  }
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.retry = {"1h"};
  cfg.domains = {{"torn.test", fmt::format("127.0.0.1:{}", dead_port)},
                 {"silent.test", fmt::format("127.0.0.1:{}", silent_port)}};
  // Small segments, so the spool has several files and the cut one is the last of them.
  cfg.extra_toml = "[spool]\nsegment_bytes = 65536\n";
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();

  // First half to the closed port (ACCEPTs followed by the refused attempts' OUTCOMEs), then,
  // once those are recorded, the second half to the silent listener (ACCEPTs only): ~140 KB,
  // so the last 64 KiB segment holds ACCEPTs, possibly after some OUTCOMEs.
  std::vector<std::string> ids;
  {
    RingpostApi api(server->port());
    const std::string filler(300, 'z');
    auto submit = [&](int from, int to, std::string_view domain) {
      for (int b = from; b < to; b += kPerBatch) {
        std::vector<OutgoingMessage> batch;
        for (int k = b; k < b + kPerBatch; ++k)
          batch.push_back({"sender@example.test", {fmt::format("t{}@{}", k, domain)}, fmt::format("torn {}", k),
                           fmt::format("message {} {}", k, filler)});
        auto got = api.submit_batch(batch);
        ASSERT_TRUE(got) << "batch at " << b << ": " << got.error();
        ASSERT_EQ(got->size(), std::size_t(kPerBatch));
        ids.insert(ids.end(), got->begin(), got->end());
      }
    };
    submit(0, kMessages / 2, "torn.test");
    if (HasFatalFailure()) return;
    Stats st;
    EXPECT_TRUE(wait_until(10s, 50ms, [&] {
      auto s = api.stats();
      if (s) st = *s;
      return s && s->deferred >= kMessages / 2;
    })) << "the refused first attempts were not recorded in 10 s: deferred=" << st.deferred;
    submit(kMessages / 2, kMessages, "silent.test");
    if (HasFatalFailure()) return;
  }
  server->kill9();
  ASSERT_FALSE(port_is_listening(dead_port)) << "something else took the 'dead' port";

  const fs::path spool = server->config().spool_dir;
  const auto files = spool_it::spool_files(spool);
  ASSERT_FALSE(files.empty()) << "no spool-*.log files in " << spool;
  std::vector<spool_it::SpoolFileInfo> infos;
  std::set<std::string> accepted_in_earlier;  // ACCEPTs in files before the last: never cut
  for (std::size_t i = 0; i < files.size(); ++i) {
    infos.push_back(spool_it::parse_spool_file(files[i]));
    EXPECT_EQ(infos.back().valid_end, infos.back().size)
        << files[i] << " does not end on a record boundary before any cut";
    if (i + 1 < files.size())
      for (const auto& r : infos.back().records)
        if (r.type == 1) accepted_in_earlier.insert(r.id);
  }
  const spool_it::SpoolFileInfo& last = infos.back();
  std::set<std::string> accepted_in_last;
  int outcomes_in_last = 0;
  for (const auto& r : last.records) {
    if (r.type == 1) accepted_in_last.insert(r.id);
    if (r.type == 2) ++outcomes_in_last;
  }
  int ids_without_accept = 0;
  for (const auto& id : ids) ids_without_accept += accepted_in_earlier.count(id) + accepted_in_last.count(id) ? 0 : 1;
  ASSERT_EQ(ids_without_accept, 0) << "acknowledged ids with no ACCEPT record in the spool";
  std::fprintf(stderr,
               "[ringpost-spool] %zu spool files; the last, %s, has %llu bytes: %zu ACCEPT and %d OUTCOME records; %zu "
               "ACCEPTs in earlier files\n",
               files.size(), last.path.filename().c_str(), static_cast<unsigned long long>(last.size),
               accepted_in_last.size(), outcomes_in_last, accepted_in_earlier.size());
  ASSERT_GT(last.size, 0u) << "the last segment is empty; nothing to cut";
  EXPECT_GT(accepted_in_last.size(), 0u) << "no ACCEPT record in the last segment; the cuts prove little";
  EXPECT_GT(files.size(), 1u) << "segment_bytes = 65536 should have split ~300 KB into several files";

  // kCuts random offsets, then one on the record boundary after the middle ACCEPT of the
  // last file (a random offset almost never hits a boundary, which must read as a clean end).
  std::uniform_int_distribution<uint64_t> offset(0, last.size - 1);
  std::vector<uint64_t> cuts;
  for (int k = 0; k < kCuts; ++k) cuts.push_back(offset(rng));
  if (!accepted_in_last.empty()) {
    std::size_t nth = accepted_in_last.size() / 2;
    for (const auto& r : last.records)
      if (r.type == 1 && nth-- == 0) {
        cuts.push_back(r.end);
        break;
      }
  }
  for (std::size_t k = 0; k < cuts.size(); ++k) {
    SCOPED_TRACE(fmt::format("cut {} at byte {} (seed {})", k, cuts[k], seed));
    const uint64_t cut = cuts[k];
    bool inside_record = false;
    std::set<std::string> kept, lost;
    kept = accepted_in_earlier;
    for (const auto& r : last.records) {
      if (r.offset < cut && cut < r.end) inside_record = true;
      if (r.type != 1) continue;
      (r.end <= cut ? kept : lost).insert(r.id);
    }
    std::fprintf(stderr, "[ringpost-spool] cut %zu at byte %llu of %llu (%s): %zu messages before it, %zu after\n", k,
                 static_cast<unsigned long long>(cut), static_cast<unsigned long long>(last.size),
                 inside_record ? "inside a record" : "on a record boundary", kept.size(), lost.size());

    const fs::path copy_dir = dir_ / fmt::format("copy-{}", k);
    const fs::path copy_spool = copy_dir / "spool";
    std::error_code ec;
    fs::create_directories(copy_dir, ec);
    fs::copy(spool, copy_spool, fs::copy_options::recursive, ec);
    ASSERT_FALSE(ec) << "copy " << spool << " -> " << copy_spool << ": " << ec.message();
    fs::resize_file(copy_spool / last.path.filename(), cut, ec);
    ASSERT_FALSE(ec) << "truncate: " << ec.message();

    auto cp = pick_free_ports(1);
    ASSERT_TRUE(cp);
    ServerConfig ccfg = cfg;
    ccfg.http_port = (*cp)[0];
    ccfg.spool_dir = copy_spool;
    auto copy_server = RingpostServer::start(copy_dir, ccfg);
    ASSERT_TRUE(copy_server) << "server on the spool cut at " << cut << " did not start: " << copy_server.error();

    RingpostApi api(copy_server->port());
    auto stats = api.stats();
    ASSERT_TRUE(stats) << stats.error();
    EXPECT_EQ(stats->total(), static_cast<int64_t>(kept.size()))
        << "stats queued=" << stats->queued << " deferred=" << stats->deferred;

    int kept_missing = 0, lost_present = 0, not_recovered = 0, other = 0;
    std::string first_bad;
    for (const auto& id : ids) {
      auto r = api.http().get("/v1/messages/" + id);
      if (!r) {
        if (other++ == 0) first_bad = r.error();
        continue;
      }
      if (kept.count(id)) {
        if (r->status != 200) {
          if (kept_missing++ == 0) first_bad = fmt::format("{}: HTTP {} {}", id, r->status, r->body);
          continue;
        }
        auto flags = spool_it::recovered_flags(r->body);
        if (!flags || flags->size() != 1 || !(*flags)[0])
          if (not_recovered++ == 0) first_bad = fmt::format("{}: {}", id, r->body);
      } else if (r->status != 404) {
        if (lost_present++ == 0) first_bad = fmt::format("{}: HTTP {} {}", id, r->status, r->body);
      }
    }
    EXPECT_EQ(other, 0) << first_bad;
    EXPECT_EQ(kept_missing, 0) << "messages wholly before the cut are gone, first: " << first_bad;
    EXPECT_EQ(lost_present, 0) << "messages whose ACCEPT was cut are still there, first: " << first_bad;
    EXPECT_EQ(not_recovered, 0) << "re-queued recipients without \"recovered\":true, first: " << first_bad;

    // The recovery warning, "<file>: torn tail at offset N: ..." (not the "0 torn tail(s)" summary).
    const std::string log = copy_server->process().output();
    if (inside_record)
      EXPECT_NE(log.find("torn tail at offset"), std::string::npos) << "no torn-tail warning; log:\n" << copy_server->process().output_tail();
    else
      EXPECT_EQ(log.find("torn tail at offset"), std::string::npos) << "a cut on a record boundary is a clean end; log:\n"
                                                          << copy_server->process().output_tail();
    EXPECT_TRUE(copy_server->stop()) << "did not exit on SIGTERM";
  }
}

}  // namespace
}  // namespace ringpost::it
