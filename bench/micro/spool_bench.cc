// The spool's write path:
//   BM_SpoolEncode/accept/body:1024    queue::append_accept of one message (1 recipient, 1 KiB
//                                      rendered body) into a warm buffer; crc32 included
//   BM_SpoolEncode/outcome             queue::append_outcome of one delivery result
//   BM_SpoolGroupCommit/records:N      engine::SpoolWriter on a real io_uring Ring: append N
//                                      ACCEPT records, when_durable, flush, run the ring until the
//                                      callback; one linked write + fdatasync per commit
//   BM_SpoolWriteFdatasync/records:N   the baseline, same run, same directory: encode N records,
//                                      pwrite them, fdatasync, all blocking on this thread.
//                                      records:1 is "one fdatasync per message", what the spool
//                                      would cost without group commit
// Both disk benchmarks use real time (the thread sleeps in the kernel) and a fresh directory
// under $RINGPOST_BENCH_DIR, else /var/tmp: /tmp may be tmpfs, where fdatasync costs nothing and
// the ratio would mean nothing. The directory's file system is in the output's context.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "bench/micro/micro.h"
#include "engine/runtime/ring.h"
#include "engine/spool/spool_writer.h"
#include "queue/spool_record.h"

namespace ringpost::bench {
namespace {

std::string bench_root() {
  const char* dir = std::getenv("RINGPOST_BENCH_DIR");
  return dir && *dir ? dir : "/var/tmp";
}

std::string fs_name(const std::string& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case EXT4_SUPER_MAGIC: return "ext2/3/4";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case TMPFS_MAGIC: return "tmpfs (fdatasync is free: disk ratios are meaningless)";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: return fmt::format("f_type 0x{:x}", static_cast<unsigned long>(s.f_type));
  }
}

// A fresh directory, removed with its segments when the benchmark ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = bench_root() + "/ringpost-micro-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }  // empty if mkdtemp failed

 private:
  std::string path_;
};

const std::string& body_1k() {
  static const std::string b = rendered_message(1024);
  return b;
}

queue::AcceptRecord accept_record() {
  queue::AcceptRecord r;
  r.id = "01M8A1QARMMN7GJ7ZYR0YJMVPT";
  r.from = "agent@example.test";
  r.created_at_ms = kNow * 1000;
  r.recipients = {"bob@dest.test"};
  r.body = body_1k();
  return r;
}

void BM_SpoolEncodeAccept(benchmark::State& state) {
  const auto rec = accept_record();
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!queue::append_accept(out, rec)) return state.SkipWithError("record refused");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_SpoolEncodeOutcome(benchmark::State& state) {
  queue::OutcomeRecord rec;
  rec.id = "01M8A1QARMMN7GJ7ZYR0YJMVPT";
  rec.recipient_index = 0;
  rec.state = queue::RecipientState::delivered;
  rec.attempts = 1;
  rec.at_ms = kNow * 1000;
  rec.reply = smtp::Reply{250, "2.0.0", "Ok: queued as 4dF3kL0Qz9x"};
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!queue::append_outcome(out, rec)) return state.SkipWithError("record refused");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_SpoolGroupCommit(benchmark::State& state, int records) {
  std::unique_ptr<engine::Ring> ring;
  try {
    ring = std::make_unique<engine::Ring>(64);
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  TempDir dir;
  if (dir.path().empty()) return state.SkipWithError("mkdtemp failed");
  auto writer = engine::SpoolWriter::open(*ring, dir.path());
  if (!writer) return state.SkipWithError(writer.error().c_str());
  engine::SpoolWriter& w = **writer;
  const auto rec = accept_record();
  for (auto _ : state) {
    for (int i = 0; i < records; ++i)
      if (!queue::append_accept(w.buffer(), rec)) return state.SkipWithError("record refused");
    bool done = false, ok = false;
    w.when_durable([&](bool r) {
      done = true;
      ok = r;
    });
    w.flush();
    while (!done) ring->run_once(1000);
    if (!ok) return state.SkipWithError("spool write failed");
  }
  state.SetItemsProcessed(state.iterations() * records);
  state.counters["fdatasync_per_commit"] =
      benchmark::Counter(static_cast<double>(w.syncs()), benchmark::Counter::kAvgIterations);
}

void BM_SpoolWriteFdatasync(benchmark::State& state, int records) {
  TempDir dir;
  if (dir.path().empty()) return state.SkipWithError("mkdtemp failed");
  const std::string path = dir.path() + "/baseline.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return state.SkipWithError("open failed");
  const auto rec = accept_record();
  std::string buf;
  off_t offset = 0;
  for (auto _ : state) {
    buf.clear();
    for (int i = 0; i < records; ++i)
      if (!queue::append_accept(buf, rec)) return state.SkipWithError("record refused");
    // A pwrite to a regular file comes back short only on ENOSPC (or a signal); either way
    // the run is void, so no retry loop.
    if (::pwrite(fd, buf.data(), buf.size(), offset) != static_cast<ssize_t>(buf.size()) || ::fdatasync(fd) != 0) {
      ::close(fd);
      return state.SkipWithError("pwrite/fdatasync failed");
    }
    offset += static_cast<off_t>(buf.size());
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations() * records);
}

}  // namespace

void register_spool() {
  benchmark::AddCustomContext("spool_dir", fmt::format("{} ({})", bench_root(), fs_name(bench_root())));
  benchmark::RegisterBenchmark("BM_SpoolEncode/accept/body:1024", BM_SpoolEncodeAccept);
  benchmark::RegisterBenchmark("BM_SpoolEncode/outcome", BM_SpoolEncodeOutcome);
  for (int records : {1, 16, 256, 1024}) {
    benchmark::RegisterBenchmark(fmt::format("BM_SpoolGroupCommit/records:{}", records).c_str(), BM_SpoolGroupCommit,
                                 records)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("BM_SpoolWriteFdatasync/records:{}", records).c_str(),
                                 BM_SpoolWriteFdatasync, records)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace ringpost::bench
