// Group commit for the spool, on the front thread's ring. Records appended during one loop
// iteration go to disk in one write, and when any of them waits for durability (an ACCEPT),
// one fdatasync linked behind that write covers all of them. While a commit is in flight, new
// records collect for the next one, so the fsync rate adapts to the disk instead of the load.
// The log is a series of segment files; a new one is started between commits once the current
// one reaches segment_bytes, so finished segments can be deleted whole (docs/spool.md).
// Invariant: a durability callback runs only after every byte appended before it is synced.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "engine/runtime/ring.h"
#include "engine/spool/segment_file.h"

namespace ringpost::engine {

struct SpoolWriterOptions {
  uint64_t segment_bytes = 64u << 20;
  uint32_t first_seq = 0;  // segment numbers below it belong to recovered files
};

class SpoolWriter {
 public:
  // Where a commit landed: its segment and the file offset of the commit's first byte. A
  // record appended at buffer position p (buffer().size() before the append) is at offset + p.
  struct Placement {
    std::shared_ptr<const SegmentFile> file;
    uint64_t offset = 0;
  };
  using Durable = std::function<void(bool ok, const Placement& at)>;

  // Opens a fresh segment file in dir (recovery has already read the old ones).
  static tl::expected<std::unique_ptr<SpoolWriter>, std::string> open(Ring& ring, const std::string& dir,
                                                                      SpoolWriterOptions options = {});
  ~SpoolWriter();

  // Records are appended straight into this buffer (queue::append_accept / append_outcome).
  std::string& buffer() { return pending_; }
  // Runs cb once the records appended so far are durable (or failed to be written).
  void when_durable(Durable cb) { pending_waiters_.push_back(std::move(cb)); }
  void when_durable(std::function<void(bool ok)> cb) {
    pending_waiters_.push_back([cb = std::move(cb)](bool ok, const Placement&) { cb(ok); });
  }
  // Called at the end of each loop iteration: starts a commit if none is in flight.
  void flush();
  bool busy() const { return in_flight_; }
  // Both commit buffers keep the size of the largest commit; freed when idle (the front's
  // quiet release, engine/runtime/idle_memory.h). Not while a write reads one.
  void release_idle_memory();
  const std::string& path() const { return current_->path; }
  const std::shared_ptr<const SegmentFile>& segment() const { return current_; }
  // Told about every segment started after the first (rotation).
  void on_new_segment(std::function<void(const std::shared_ptr<const SegmentFile>&)> cb) { on_new_segment_ = std::move(cb); }

  // Told about every successful commit: its segment and how many bytes it added.
  void on_committed(std::function<void(const SegmentFile&, uint64_t bytes)> cb) { on_committed_ = std::move(cb); }

  // Told how long each successful write + fdatasync took, from submission to completion (ns).
  void on_synced(std::function<void(int64_t ns)> cb) { on_synced_ = std::move(cb); }

  uint64_t write_errors() const { return write_errors_; }
  uint64_t syncs() const { return syncs_; }

 private:
  SpoolWriter(Ring& ring, std::string dir, SpoolWriterOptions options, std::shared_ptr<const SegmentFile> first);
  struct Op : Completion {
    SpoolWriter* self;
    bool is_sync;
    Op(SpoolWriter* s, bool sync) : self(s), is_sync(sync) {}
    void on_complete(int res, uint32_t) override { self->on_complete(is_sync, res); }
  };
  static tl::expected<std::shared_ptr<const SegmentFile>, std::string> create_segment(const std::string& dir,
                                                                                      uint32_t seq);
  void rotate();
  void on_complete(bool is_sync, int res);
  void finish(bool ok);

  Ring& ring_;
  std::string dir_;
  SpoolWriterOptions options_;
  std::shared_ptr<const SegmentFile> current_;
  uint32_t next_seq_;
  uint64_t offset_ = 0;
  std::string pending_;
  std::vector<Durable> pending_waiters_;
  std::string writing_;
  std::vector<Durable> writing_waiters_;
  bool in_flight_ = false;
  bool with_sync_ = false;
  int write_res_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t syncs_ = 0;
  std::function<void(const std::shared_ptr<const SegmentFile>&)> on_new_segment_;
  std::function<void(const SegmentFile&, uint64_t)> on_committed_;
  std::function<void(int64_t)> on_synced_;
  int64_t sync_started_ns_ = 0;
  Op write_op_{this, false};
  Op sync_op_{this, true};
};

}  // namespace ringpost::engine
