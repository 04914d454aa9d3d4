// See spool_writer.h. The write and the fdatasync are linked SQEs (IOSQE_IO_LINK): the kernel
// starts the sync only after the write succeeded in full, and cancels it otherwise, which is how
// a short or failed write (ENOSPC) is noticed without a second round trip.
#include "engine/spool/spool_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/runtime/clock.h"
#include "engine/runtime/idle_memory.h"
#include "queue/spool_recovery.h"

namespace ringpost::engine {

tl::expected<std::shared_ptr<const SegmentFile>, std::string> SpoolWriter::create_segment(const std::string& dir,
                                                                                         uint32_t seq) {
  // The name's time part orders segments across restarts; seq orders them within one process.
  std::string path = dir + "/" + queue::spool_file_name(now_ms(), seq);
  // Read and write: shards read bodies back through the same descriptor.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return tl::make_unexpected(fmt::format("{}: cannot create spool file: {}", path, std::strerror(errno)));
  // The new file's directory entry must be durable too, or a crash could lose the whole file.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return std::make_shared<const SegmentFile>(seq, std::move(path), fd);
}

tl::expected<std::unique_ptr<SpoolWriter>, std::string> SpoolWriter::open(Ring& ring, const std::string& dir,
                                                                        SpoolWriterOptions options) {
  auto first = create_segment(dir, options.first_seq);
  if (!first) return tl::make_unexpected(first.error());
  return std::unique_ptr<SpoolWriter>(new SpoolWriter(ring, dir, options, std::move(*first)));
}

SpoolWriter::SpoolWriter(Ring& ring, std::string dir, SpoolWriterOptions options,
                         std::shared_ptr<const SegmentFile> first)
    : ring_(ring), dir_(std::move(dir)), options_(options), current_(std::move(first)),
      next_seq_(options.first_seq + 1) {}

SpoolWriter::~SpoolWriter() {
  // Outcome records still buffered are not owed durability, but writing them saves redelivery.
  if (!in_flight_ && !pending_.empty())
    [[maybe_unused]] auto n = ::pwrite(current_->fd, pending_.data(), pending_.size(), offset_);
}

void SpoolWriter::rotate() {
  // Between commits only, so a commit never spans two files. Opening a file and syncing the
  // directory block this thread for about a millisecond, once per segment_bytes written.
  auto next = create_segment(dir_, next_seq_);
  if (!next) {
    spdlog::error("spool: cannot start a new segment ({}); appending to {}", next.error(), current_->path);
    return;
  }
  ++next_seq_;
  current_ = std::move(*next);
  offset_ = 0;
  if (on_new_segment_) on_new_segment_(current_);
}

void SpoolWriter::release_idle_memory() {
  if (in_flight_) return;
  shrink_if_empty(pending_);
  shrink_if_empty(writing_);
  shrink_if_empty(pending_waiters_);
  shrink_if_empty(writing_waiters_);
}

void SpoolWriter::flush() {
  if (in_flight_ || (pending_.empty() && pending_waiters_.empty())) return;
  if (offset_ >= options_.segment_bytes && !pending_.empty()) rotate();
  writing_.swap(pending_);
  pending_.clear();
  writing_waiters_.swap(pending_waiters_);
  pending_waiters_.clear();
  in_flight_ = true;
  // Outcome-only batches skip the sync: losing one only means a duplicate delivery after a
  // crash, and syncing them would cost a disk flush per delivery batch.
  with_sync_ = !writing_waiters_.empty();
  write_res_ = 0;
  // Waiters with no bytes of their own (their records went out in an earlier, unsynced
  // batch) need only the sync.
  if (!writing_.empty()) {
    io_uring_sqe* w = ring_.sqe(&write_op_);
    io_uring_prep_write(w, current_->fd, writing_.data(), writing_.size(), offset_);
    if (with_sync_) w->flags |= IOSQE_IO_LINK;
  }
  if (with_sync_) {
    sync_started_ns_ = steady_ns();
    io_uring_prep_fsync(ring_.sqe(&sync_op_), current_->fd, IORING_FSYNC_DATASYNC);
  }
}

void SpoolWriter::on_complete(bool is_sync, int res) {
  if (!is_sync) {
    write_res_ = res;
    if (!with_sync_) finish(res == static_cast<int>(writing_.size()));
    return;
  }
  ++syncs_;
  if (res == 0 && on_synced_) on_synced_(steady_ns() - sync_started_ns_);
  if (res == 0) return finish(true);
  if (res == -ECANCELED && write_res_ >= 0) {
    // Short write: finish the rest synchronously; this path is rare enough not to matter.
    std::size_t done = static_cast<std::size_t>(write_res_);
    while (done < writing_.size()) {
      ssize_t n = ::pwrite(current_->fd, writing_.data() + done, writing_.size() - done, offset_ + done);
      if (n <= 0) return finish(false);
      done += static_cast<std::size_t>(n);
    }
    return finish(::fdatasync(current_->fd) == 0);
  }
  finish(false);
}

void SpoolWriter::finish(bool ok) {
  const Placement at{current_, offset_};
  if (ok) {
    offset_ += writing_.size();
    if (on_committed_ && !writing_.empty()) on_committed_(*current_, writing_.size());
  } else {
    // Cut off whatever part of the batch reached the file, so the next batch starts on a
    // record boundary and recovery never sees a torn record in the middle of the log.
    ++write_errors_;
    spdlog::error("spool write to {} failed; {} waiting requests get 503", current_->path, writing_waiters_.size());
    [[maybe_unused]] int rc = ::ftruncate(current_->fd, static_cast<off_t>(offset_));
  }
  in_flight_ = false;
  writing_.clear();
  std::vector<Durable> waiters;
  waiters.swap(writing_waiters_);
  for (Durable& cb : waiters) cb(ok, at);
}

}  // namespace ringpost::engine
