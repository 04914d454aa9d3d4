// Group commit for the spool log, on the front thread's ring. Records appended during one loop
// iteration go to disk in one write, and when any of them waits for durability (an ACCEPT),
// one fdatasync linked behind that write covers all of them. While a commit is in flight, new
// records collect for the next one, so the fsync rate adapts to the disk instead of the load.
// Invariant: a durability callback runs only after every byte appended before it is synced.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "engine/ring.h"

namespace ringpost::engine {

class SpoolWriter {
 public:
  using Durable = std::function<void(bool ok)>;

  // Opens a fresh log file in dir (recovery has already read the old ones).
  static tl::expected<std::unique_ptr<SpoolWriter>, std::string> open(Ring& ring, const std::string& dir);
  ~SpoolWriter();

  // Records are appended straight into this buffer (queue::append_accept / append_outcome).
  std::string& buffer() { return pending_; }
  // Runs cb(ok) once the records appended so far are durable (or failed to be written).
  void when_durable(Durable cb) { pending_waiters_.push_back(std::move(cb)); }
  // Called at the end of each loop iteration: starts a commit if none is in flight.
  void flush();
  bool busy() const { return in_flight_; }
  const std::string& path() const { return path_; }

 private:
  SpoolWriter(Ring& ring, int fd, std::string path);
  struct Op : Completion {
    SpoolWriter* self;
    bool is_sync;
    Op(SpoolWriter* s, bool sync) : self(s), is_sync(sync) {}
    void on_complete(int res, uint32_t) override { self->on_complete(is_sync, res); }
  };
  void on_complete(bool is_sync, int res);
  void finish(bool ok);

  Ring& ring_;
  int fd_;
  std::string path_;
  uint64_t offset_ = 0;
  std::string pending_;
  std::vector<Durable> pending_waiters_;
  std::string writing_;
  std::vector<Durable> writing_waiters_;
  bool in_flight_ = false;
  bool with_sync_ = false;
  int write_res_ = 0;
  Op write_op_{this, false};
  Op sync_op_{this, true};
};

}  // namespace ringpost::engine
