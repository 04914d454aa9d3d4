// The delivery log writer (docs/delivery-log.md): JSON lines appended to one file by the HTTP
// front, which already sees every event (acceptance, the shards' DeliveryEvents, admin actions),
// so the shards never wait on it. Lines collect in a buffer; at the end of each loop turn the
// buffer becomes one io_uring write on the front's own ring, with at most one write in flight
// (the file is O_APPEND, and one writer keeps lines whole and in order). Front thread only, but
// request_reopen(), which any thread may call (SIGUSR1 from the main thread).
// Invariant: the buffer a write SQE points at is never touched until its CQE has been seen.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "engine/config/config.h"
#include "engine/delivery/delivery_job.h"
#include "engine/runtime/mailbox.h"
#include "engine/runtime/ring.h"

namespace ringpost::engine {

struct DomainOverride;

class DeliveryLog : private Completion {
 public:
  explicit DeliveryLog(const LogConfig& cfg);
  ~DeliveryLog();
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  bool enabled() const { return !path_.empty(); }
  // Before the front's thread runs: opens (creates) the file, so a bad path stops start-up.
  tl::expected<void, std::string> open();
  // On the front's thread, once its ring exists.
  void start(Ring& ring);

  // The events, one line each (per recipient for a message). `key` and `tags_json` are the
  // message's owner and tags; empty when it has none.
  void accepted(const SpooledMessage& msg, const std::string& key, const std::string& tags_json);
  void event(const DeliveryEvent& e, const std::string& key, const std::string& tags_json);
  void admin(std::string_view action, const std::string& domain, const std::string& key,
             const DomainOverride* now_in_force);

  // End of each loop turn: reopen if asked, rotate if due, start a write if none is in flight.
  void flush();
  // Stopping: writes what is left, waiting (bounded) for the disk.
  void finish();
  // Any thread: the file is closed and opened again at its path at the front's next loop turn
  // (after logrotate renamed it). The request wakes the front's ring.
  void request_reopen();

  uint64_t dropped_lines() const { return dropped_lines_; }

 private:
  void on_complete(int res, uint32_t flags) override;
  void submit();
  bool open_file();
  void reopen();
  void rotate();

  std::string path_;
  uint64_t max_bytes_;
  uint32_t keep_;
  int fd_ = -1;
  uint64_t file_bytes_ = 0;  // the current file's size: what was there at open + what we wrote
  Ring* ring_ = nullptr;
  std::string pending_;      // lines not yet handed to the kernel
  std::string writing_;      // the buffer of the write in flight
  std::size_t written_ = 0;  // of writing_, already in the file (short writes)
  bool in_flight_ = false;
  bool reopen_wanted_ = false;
  int64_t next_open_try_ms_ = 0;  // after a failed open: do not retry every loop turn
  uint64_t dropped_lines_ = 0;
  uint64_t dropped_reported_ = 0;
  Mailbox<uint8_t> reopen_requests_;
  std::vector<uint8_t> reopen_batch_;
};

}  // namespace ringpost::engine
