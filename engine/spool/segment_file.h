// One spool segment file, held open for reading bodies back. Shared (shared_ptr) by every
// message whose body lies in it, across threads: a shard reads with pread-style io_uring reads
// on `fd`, which needs no lock. Deleting the file (reclaim) only unlinks the name; the data
// stays readable through `fd` until the last holder lets go, so a read in flight never races
// a reclaim.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ringpost::engine {

struct SegmentFile {
  SegmentFile(uint32_t s, std::string p, int f) : seq(s), path(std::move(p)), fd(f) {}
  ~SegmentFile() {
    if (fd >= 0) ::close(fd);
  }
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  const uint32_t seq;  // this process's number for the segment: creation order
  const std::string path;
  const int fd;
};

// Where a message's body lies: replaced (never modified) when compaction copies the message
// forward into a newer segment.
struct BodyRef {
  std::shared_ptr<const SegmentFile> file;
  uint64_t offset = 0;
  uint32_t size = 0;
};

}  // namespace ringpost::engine
