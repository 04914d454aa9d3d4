// The physical limit under the spool: how many write+fdatasync rounds per second the disk
// behind a directory takes, for one block size, from one thread, for a fixed time.
//
//   spool_fsync_rate DIR BLOCK_BYTES SECONDS [append|overwrite]
//
// append (default): each round appends BLOCK_BYTES at the end of a fresh file, as the spool
// writer does, so every fdatasync also commits the new file size (an ext4 journal commit).
// overwrite: the file is first written and synced to SECONDS x a generous rate worth of blocks
// (capped at 256 MiB), then rewritten in place from the start, so fdatasync has only data to
// flush: what a preallocated, already-written segment would cost.
// Prints one line of key=value pairs: mode, block, seconds, syncs, syncs_per_s, mb_per_s,
// p50_us, p99_us, max_us (latency of one write+fdatasync round). The file is removed at exit.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "spool_fsync_rate: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

void write_all(int fd, const char* p, std::size_t n, off_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("pwrite");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    off += w;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DIR BLOCK_BYTES SECONDS [append|overwrite]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  std::size_t block = std::strtoull(argv[2], nullptr, 10);
  double seconds = std::strtod(argv[3], nullptr);
  std::string mode = argc > 4 ? argv[4] : "append";
  if (block == 0 || seconds <= 0 || (mode != "append" && mode != "overwrite")) {
    std::fprintf(stderr, "spool_fsync_rate: bad arguments\n");
    return 2;
  }
  std::string path = dir + "/fsync-rate-" + std::to_string(::getpid()) + ".tmp";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die(path);
  // Not all zeros or all one byte, so nothing below can shortcut it.
  std::vector<char> buf(block);
  for (std::size_t i = 0; i < block; ++i) buf[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);

  off_t limit = 0;  // overwrite: wrap around at this size
  if (mode == "overwrite") {
    off_t cap = off_t{256} << 20;
    limit = std::max<off_t>(static_cast<off_t>(block), std::min<off_t>(cap, static_cast<off_t>(block) * 4096));
    limit -= limit % static_cast<off_t>(block);
    for (off_t off = 0; off < limit; off += static_cast<off_t>(block)) write_all(fd, buf.data(), block, off);
    if (::fsync(fd) != 0) die("fsync");
  }

  std::vector<double> lat;
  lat.reserve(1 << 16);
  off_t off = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto now = start;
  while (now < end) {
    auto t0 = now;
    write_all(fd, buf.data(), block, off);
    if (::fdatasync(fd) != 0) die("fdatasync");
    off += static_cast<off_t>(block);
    if (limit && off >= limit) off = 0;
    now = Clock::now();
    lat.push_back(std::chrono::duration<double, std::micro>(now - t0).count());
  }
  double elapsed = std::chrono::duration<double>(now - start).count();
  ::close(fd);
  ::unlink(path.c_str());

  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))]; };
  double n = static_cast<double>(lat.size());
  std::printf("mode=%s block=%zu seconds=%.3f syncs=%zu syncs_per_s=%.1f mb_per_s=%.2f p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
              mode.c_str(), block, elapsed, lat.size(), n / elapsed, n * static_cast<double>(block) / elapsed / 1e6,
              pct(0.5), pct(0.99), lat.empty() ? 0.0 : lat.back());
  return 0;
}
