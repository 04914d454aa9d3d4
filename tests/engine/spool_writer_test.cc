// SpoolWriter group commit, on a temp dir with a Ring owned by the test thread. "One write" is
// checked on the SQEs the writer queues (opcode, length, offset, link flag) before the ring
// submits them; "durable" is checked by reading the file back and by running queue recovery on
// it, which is what a restart would do.
#include "engine/spool/spool_writer.h"

#include <signal.h>
#include <sys/resource.h>

#include <gtest/gtest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/ring.h"
#include "queue/spool_record.h"
#include "queue/spool_recovery.h"
#include "tests/queue/temp_dir.h"

namespace ringpost::engine {
namespace {

using queue::testing::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The SQEs queued on the ring and not yet submitted, oldest first.
std::vector<io_uring_sqe> queued_sqes(Ring& ring) {
  io_uring* r = ring.raw();
  const unsigned ready = io_uring_sq_ready(r);
  std::vector<io_uring_sqe> out;
  for (unsigned i = 0; i < ready; ++i) out.push_back(r->sq.sqes[(r->sq.sqe_tail - ready + i) & r->sq.ring_mask]);
  return out;
}

// Runs the loop until pred() holds; bounded in iterations, not time.
template <typename Pred>
bool run_until(Ring& ring, Pred pred, int max_iterations = 200) {
  for (int i = 0; i < max_iterations && !pred(); ++i) ring.run_once(1000);
  return pred();
}

queue::AcceptRecord accept(const std::string& id, const std::string& body, int n_rcpts = 2) {
  queue::AcceptRecord r;
  r.id = id;
  r.from = "agent@example.test";
  r.created_at_ms = 1'700'000'000'000;
  for (int i = 0; i < n_rcpts; ++i) r.recipients.push_back(fmt::format("r{}@dest{}.test", i, i));
  r.body = body;
  return r;
}

const std::string kBodyA = "Subject: a\r\n\r\nalpha\r\n";
const std::string kBodyB = "Subject: b\r\n\r\nbravo bravo\r\n";
const std::string kBodyC = "Subject: c\r\n\r\ncharlie\r\n";
const std::string kBodyD = "Subject: d\r\n\r\n" + std::string(3000, 'd') + "\r\n";

struct Fixture {
  std::unique_ptr<Ring> ring;
  TempDir dir;
  std::unique_ptr<SpoolWriter> writer;
  std::string skip;

  Fixture() {
    try {
      ring = std::make_unique<Ring>(64);
    } catch (const std::exception& e) {
      skip = e.what();
      return;
    }
    auto w = SpoolWriter::open(*ring, dir.path());
    if (!w) {
      ADD_FAILURE() << w.error();
      return;
    }
    writer = std::move(*w);
  }
  ~Fixture() {
    // An in-flight commit names the writer's buffers; finish it before anything is freed.
    if (writer && ring) run_until(*ring, [&] { return !writer->busy(); });
  }
};

#define SETUP_OR_SKIP(f)                                                    \
  Fixture f;                                                                \
  if (!f.skip.empty()) GTEST_SKIP() << "io_uring unavailable: " << f.skip; \
  ASSERT_TRUE(f.writer)

queue::RecoveredSpool recover(const std::string& dir) {
  auto r = queue::recover_spool(dir);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
  return r ? std::move(*r) : queue::RecoveredSpool{};
}

TEST(SpoolWriter, OpenCreatesAnEmptyLogInTheDirectory) {
  SETUP_OR_SKIP(f);
  EXPECT_EQ(std::filesystem::path(f.writer->path()).parent_path(), std::filesystem::path(f.dir.path()));
  EXPECT_EQ(std::filesystem::path(f.writer->path()).extension(), ".log");
  EXPECT_TRUE(std::filesystem::exists(f.writer->path()));
  EXPECT_EQ(std::filesystem::file_size(f.writer->path()), 0u);
  EXPECT_FALSE(f.writer->busy());
}

TEST(SpoolWriter, OpenFailsWithThePathForAMissingDirectory) {
  std::unique_ptr<Ring> ring;
  try {
    ring = std::make_unique<Ring>(8);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "io_uring unavailable: " << e.what();
  }
  auto w = SpoolWriter::open(*ring, "/nonexistent/ringpost-spool-test");
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find("/nonexistent/ringpost-spool-test/"), std::string::npos) << w.error();
}

TEST(SpoolWriter, OneIterationsRecordsAreCommittedByOneWriteAndOneSync) {
  SETUP_OR_SKIP(f);
  ASSERT_TRUE(queued_sqes(*f.ring).empty());

  std::vector<std::string> fired;
  for (auto [id, body] : {std::pair{"m-a", &kBodyA}, std::pair{"m-b", &kBodyB}, std::pair{"m-c", &kBodyC}}) {
    ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept(id, *body)));
    f.writer->when_durable([&fired, id = std::string(id)](bool ok) { fired.push_back(id + (ok ? " ok" : " FAILED")); });
  }
  const std::string expected = f.writer->buffer();

  f.writer->flush();
  EXPECT_TRUE(f.writer->busy());
  EXPECT_TRUE(f.writer->buffer().empty()) << "the batch moved to the in-flight commit";

  std::vector<io_uring_sqe> sqes = queued_sqes(*f.ring);
  ASSERT_EQ(sqes.size(), 2u) << "three records, one write, one sync";
  EXPECT_EQ(sqes[0].opcode, IORING_OP_WRITE);
  EXPECT_EQ(sqes[0].len, expected.size());
  EXPECT_EQ(sqes[0].off, 0u);
  EXPECT_TRUE(sqes[0].flags & IOSQE_IO_LINK) << "the sync must run only after the write succeeded";
  EXPECT_EQ(sqes[1].opcode, IORING_OP_FSYNC);
  EXPECT_EQ(sqes[1].fsync_flags, IORING_FSYNC_DATASYNC);
  EXPECT_EQ(sqes[1].fd, sqes[0].fd);

  // Nothing is durable until the ring has run.
  EXPECT_TRUE(fired.empty());
  ASSERT_TRUE(run_until(*f.ring, [&] { return fired.size() == 3; }));
  EXPECT_EQ(fired, (std::vector<std::string>{"m-a ok", "m-b ok", "m-c ok"}));
  EXPECT_FALSE(f.writer->busy());
  EXPECT_EQ(read_file(f.writer->path()), expected);

  queue::RecoveredSpool s = recover(f.dir.path());
  EXPECT_EQ(s.report.files, 1u);
  EXPECT_EQ(s.report.corrupt_records + s.report.torn_tails, 0u);
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].id, "m-a");
  EXPECT_EQ(*s.messages[0].body, kBodyA);
  EXPECT_EQ(s.messages[1].id, "m-b");
  EXPECT_EQ(s.messages[1].recipients.size(), 2u);
  EXPECT_EQ(s.messages[1].recipients[1].address, "r1@dest1.test");
  EXPECT_EQ(s.messages[2].id, "m-c");
  EXPECT_EQ(*s.messages[2].body, kBodyC);
}

// Past segment_bytes the next commit starts a new file; each commit says where it landed, and
// a record's place in the buffer plus that offset finds its bytes in that file.
TEST(SpoolWriter, RotatesBetweenCommitsAndTellsWhereEachCommitLanded) {
  std::unique_ptr<Ring> ring;
  try {
    ring = std::make_unique<Ring>(64);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "io_uring unavailable: " << e.what();
  }
  TempDir dir;
  auto w = SpoolWriter::open(*ring, dir.path(), SpoolWriterOptions{.segment_bytes = 4096, .first_seq = 7});
  ASSERT_TRUE(w) << w.error();
  SpoolWriter& writer = **w;
  std::vector<uint32_t> started;
  writer.on_new_segment([&](const std::shared_ptr<const SegmentFile>& s) { started.push_back(s->seq); });
  uint64_t committed = 0;
  writer.on_committed([&](const SegmentFile&, uint64_t n) { committed += n; });
  EXPECT_EQ(writer.segment()->seq, 7u);

  struct Landed {
    std::shared_ptr<const SegmentFile> file;
    uint64_t body_offset;
  };
  std::vector<Landed> landed;
  uint64_t appended = 0;
  for (int i = 0; i < 6; ++i) {
    const std::size_t before = writer.buffer().size();
    ASSERT_TRUE(queue::append_accept(writer.buffer(), accept(fmt::format("m-{}", i), kBodyD)));
    appended += writer.buffer().size() - before;
    const uint64_t body_pos = writer.buffer().size() - kBodyD.size();
    writer.when_durable([&, body_pos](bool ok, const SpoolWriter::Placement& at) {
      EXPECT_TRUE(ok);
      landed.push_back({at.file, at.offset + body_pos});
    });
    writer.flush();
    ASSERT_TRUE(run_until(*ring, [&] { return !writer.busy(); }));
  }
  ASSERT_EQ(landed.size(), 6u);
  // ~3 KiB per record, 4 KiB per segment: every second commit starts a new file.
  EXPECT_EQ(started, (std::vector<uint32_t>{8, 9}));
  EXPECT_EQ(committed, appended);
  for (const Landed& l : landed) {
    std::string bytes(kBodyD.size(), '\0');
    ASSERT_EQ(::pread(l.file->fd, bytes.data(), bytes.size(), static_cast<off_t>(l.body_offset)),
              static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(bytes, kBodyD) << l.file->path << " @" << l.body_offset;
  }
  EXPECT_EQ(landed[0].file->seq, 7u);
  EXPECT_EQ(landed[5].file->seq, 9u);
  queue::RecoveredSpool s = recover(dir.path());
  EXPECT_EQ(s.report.files, 3u);
  EXPECT_EQ(s.messages.size(), 6u);
}

TEST(SpoolWriter, RecordsAppendedDuringACommitGoIntoTheNextCommit) {
  SETUP_OR_SKIP(f);
  std::vector<std::string> events;

  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m1", kBodyA)));
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m2", kBodyB)));
  f.writer->when_durable([&](bool ok) { events.push_back(ok ? "batch1 ok" : "batch1 FAILED"); });
  const std::string batch1 = f.writer->buffer();
  f.writer->flush();
  ASSERT_EQ(queued_sqes(*f.ring).size(), 2u);

  // Arrives while batch 1 is in flight: a delivery outcome for m1 and a new message.
  ASSERT_TRUE(queue::append_outcome(
      f.writer->buffer(), {"m1", 0, queue::RecipientState::delivered, 1, 1'700'000'005'000, {250, "2.0.0", "ok"}}));
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m3", kBodyC, 1)));
  f.writer->when_durable([&](bool ok) { events.push_back(ok ? "batch2 ok" : "batch2 FAILED"); });
  const std::string batch2 = f.writer->buffer();
  f.writer->flush();  // a commit is in flight: must not start a second one
  EXPECT_EQ(queued_sqes(*f.ring).size(), 2u);
  EXPECT_EQ(f.writer->buffer(), batch2);

  ASSERT_TRUE(run_until(*f.ring, [&] { return !events.empty(); }));
  EXPECT_EQ(events, std::vector<std::string>{"batch1 ok"});
  EXPECT_FALSE(f.writer->busy());
  EXPECT_EQ(read_file(f.writer->path()), batch1) << "batch 2 must not have been written yet";
  // More loop iterations without flush() change nothing: batch 2's waiter is not owed yet.
  f.ring->run_once(10);
  EXPECT_EQ(events.size(), 1u);

  f.writer->flush();
  std::vector<io_uring_sqe> sqes = queued_sqes(*f.ring);
  ASSERT_EQ(sqes.size(), 2u);
  EXPECT_EQ(sqes[0].opcode, IORING_OP_WRITE);
  EXPECT_EQ(sqes[0].off, batch1.size()) << "appends after batch 1";
  EXPECT_EQ(sqes[0].len, batch2.size());
  ASSERT_TRUE(run_until(*f.ring, [&] { return events.size() == 2; }));
  EXPECT_EQ(events, (std::vector<std::string>{"batch1 ok", "batch2 ok"}));
  EXPECT_EQ(read_file(f.writer->path()), batch1 + batch2);

  queue::RecoveredSpool s = recover(f.dir.path());
  EXPECT_EQ(s.report.corrupt_records + s.report.torn_tails, 0u);
  EXPECT_EQ(s.report.outcomes, 1u);
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].id, "m1");
  EXPECT_EQ(s.messages[0].recipients[0].state, queue::RecipientState::delivered);
  EXPECT_EQ(s.messages[0].recipients[1].state, queue::RecipientState::queued);
  EXPECT_EQ(s.messages[1].id, "m2");
  EXPECT_EQ(s.messages[2].id, "m3");
  EXPECT_EQ(*s.messages[2].body, kBodyC);
}

TEST(SpoolWriter, OutcomeOnlyBatchIsWrittenWithoutASync) {
  SETUP_OR_SKIP(f);
  ASSERT_TRUE(queue::append_outcome(
      f.writer->buffer(), {"m1", 1, queue::RecipientState::bounced, 1, 1'700'000'009'000, {550, "5.1.1", "no"}}));
  const std::string outcome = f.writer->buffer();
  f.writer->flush();
  std::vector<io_uring_sqe> sqes = queued_sqes(*f.ring);
  ASSERT_EQ(sqes.size(), 1u) << "no waiter, so no fdatasync";
  EXPECT_EQ(sqes[0].opcode, IORING_OP_WRITE);
  EXPECT_FALSE(sqes[0].flags & IOSQE_IO_LINK);
  ASSERT_TRUE(run_until(*f.ring, [&] { return !f.writer->busy(); }));
  EXPECT_EQ(read_file(f.writer->path()), outcome);

  // The next batch with a waiter is synced and starts where the outcome ended.
  bool durable = false;
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m2", kBodyB)));
  f.writer->when_durable([&](bool ok) { durable = ok; });
  const std::string accept_bytes = f.writer->buffer();
  f.writer->flush();
  sqes = queued_sqes(*f.ring);
  ASSERT_EQ(sqes.size(), 2u);
  EXPECT_EQ(sqes[0].off, outcome.size());
  EXPECT_EQ(sqes[1].opcode, IORING_OP_FSYNC);
  ASSERT_TRUE(run_until(*f.ring, [&] { return durable; }));
  EXPECT_EQ(read_file(f.writer->path()), outcome + accept_bytes);
}

TEST(SpoolWriter, FlushWithNothingAppendedQueuesNothing) {
  SETUP_OR_SKIP(f);
  f.writer->flush();
  EXPECT_FALSE(f.writer->busy());
  EXPECT_TRUE(queued_sqes(*f.ring).empty());
}

TEST(SpoolWriter, UnflushedOutcomesAreWrittenOnDestruction) {
  SETUP_OR_SKIP(f);
  ASSERT_TRUE(queue::append_outcome(
      f.writer->buffer(), {"m1", 0, queue::RecipientState::delivered, 1, 1'700'000'001'000, {250, "2.0.0", "ok"}}));
  const std::string bytes = f.writer->buffer();
  const std::string path = f.writer->path();
  f.writer.reset();
  EXPECT_EQ(read_file(path), bytes);
}

// A waiter registered while a commit is in flight, with no new bytes after it, is owed the
// durability of the bytes already in flight: it must not wait for some later, unrelated append.
TEST(SpoolWriter, WaiterWithNoNewBytesFiresOnceEarlierBytesAreDurable) {
  SETUP_OR_SKIP(f);
  std::vector<std::string> events;
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m1", kBodyA)));
  f.writer->when_durable([&](bool ok) { events.push_back("first"); });
  f.writer->flush();
  f.writer->when_durable([&](bool ok) { events.push_back("second"); });  // nothing new appended
  for (int i = 0; i < 20 && events.size() < 2; ++i) {
    f.ring->run_once(100);
    f.writer->flush();
  }
  EXPECT_EQ(events, (std::vector<std::string>{"first", "second"}));
}

// A write that fails part-way (here: RLIMIT_FSIZE, standing in for ENOSPC) must report ok=false
// and cut the file back to the last good record boundary, so the next batch's records are
// reachable by recovery. Two shapes: a short write (the linked sync is cancelled, the writer
// finishes by hand and fails) and a write refused outright.
class SpoolWriterFailure : public ::testing::TestWithParam<std::size_t /*bytes allowed past batch 1*/> {};

TEST_P(SpoolWriterFailure, FailedBatchReportsFalseAndLogStaysOnARecordBoundary) {
  SETUP_OR_SKIP(f);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct Restore {
    rlimit lim;
    sighandler_t old_handler;
    ~Restore() {
      ::setrlimit(RLIMIT_FSIZE, &lim);
      ::signal(SIGXFSZ, old_handler);
    }
  } restore{saved, ::signal(SIGXFSZ, SIG_IGN)};  // EFBIG instead of killing the process

  std::vector<std::string> events;
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m1", kBodyA)));
  f.writer->when_durable([&](bool ok) { events.push_back(ok ? "m1 ok" : "m1 FAILED"); });
  const std::string batch1 = f.writer->buffer();
  f.writer->flush();
  ASSERT_TRUE(run_until(*f.ring, [&] { return events.size() == 1; }));

  rlimit small = saved;
  small.rlim_cur = batch1.size() + GetParam();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m2", kBodyD)));
  f.writer->when_durable([&](bool ok) { events.push_back(ok ? "m2 ok" : "m2 FAILED"); });
  f.writer->flush();
  ASSERT_TRUE(run_until(*f.ring, [&] { return events.size() == 2; }));
  EXPECT_EQ(events[1], "m2 FAILED");
  EXPECT_FALSE(f.writer->busy());
  EXPECT_EQ(read_file(f.writer->path()), batch1) << "the failed batch's partial bytes must be cut off";

  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_TRUE(queue::append_accept(f.writer->buffer(), accept("m3", kBodyC)));
  f.writer->when_durable([&](bool ok) { events.push_back(ok ? "m3 ok" : "m3 FAILED"); });
  const std::string batch3 = f.writer->buffer();
  f.writer->flush();
  ASSERT_TRUE(run_until(*f.ring, [&] { return events.size() == 3; }));
  EXPECT_EQ(events, (std::vector<std::string>{"m1 ok", "m2 FAILED", "m3 ok"}));
  EXPECT_EQ(read_file(f.writer->path()), batch1 + batch3);

  queue::RecoveredSpool s = recover(f.dir.path());
  EXPECT_EQ(s.report.corrupt_records + s.report.torn_tails, 0u);
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.messages[0].id, "m1");
  EXPECT_EQ(s.messages[1].id, "m3");  // the refused m2 (answered 503) does not come back
}

INSTANTIATE_TEST_SUITE_P(ShortWriteAndRefusedWrite, SpoolWriterFailure, ::testing::Values(100, 0),
                         [](const auto& info) { return info.param ? std::string("ShortWrite") : std::string("RefusedWrite"); });

}  // namespace
}  // namespace ringpost::engine
