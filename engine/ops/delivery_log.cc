// See delivery_log.h. Opening, renaming and closing the file are plain syscalls on the front's
// thread: they happen once per rotation or reopen, not per line, and io_uring's renameat and
// openat would only add a state machine for no measurable gain. Every write goes through the ring.
#include "engine/ops/delivery_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/runtime/clock.h"
#include "engine/ops/delivery_log_line.h"
#include "queue/message.h"

namespace ringpost::engine {
namespace {

// Past this, new lines are dropped (and counted) instead of buffered: a disk that stopped
// must not grow the front's memory without bound. At ~400 bytes a line, ~160k lines.
constexpr std::size_t kMaxPendingBytes = 64u << 20;

}  // namespace

DeliveryLog::DeliveryLog(const LogConfig& cfg)
    : path_(cfg.delivery_log), max_bytes_(cfg.delivery_log_max_bytes), keep_(std::max<uint32_t>(1, cfg.delivery_log_keep)) {}

DeliveryLog::~DeliveryLog() {
  if (fd_ >= 0) ::close(fd_);
}

tl::expected<void, std::string> DeliveryLog::open() {
  if (!enabled()) return {};
  if (!open_file())
    return tl::make_unexpected(fmt::format("log.delivery_log: cannot open {}: {}", path_, std::strerror(errno)));
  spdlog::info("delivery log: {}", path_);
  return {};
}

bool DeliveryLog::open_file() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  struct stat st{};
  file_bytes_ = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  fd_ = fd;
  return true;
}

void DeliveryLog::start(Ring& ring) {
  ring_ = &ring;
  reopen_requests_.arm(ring);
}

void DeliveryLog::request_reopen() {
  reopen_requests_.push(1);
  reopen_requests_.notify();
}

void DeliveryLog::accepted(const SpooledMessage& msg, const std::string& key, const std::string& tags_json) {
  if (!enabled()) return;
  for (const std::string& rcpt : msg.recipients) {
    if (pending_.size() >= kMaxPendingBytes) {
      ++dropped_lines_;
      continue;
    }
    DeliveryLogEntry line;
    line.type = "accepted";
    line.at_ms = msg.created_at_ms;
    line.message_id = msg.id;
    line.sender = msg.from;
    line.recipient = rcpt;
    line.key = key;
    line.tags_json = tags_json;
    append_delivery_line(pending_, line);
  }
}

void DeliveryLog::event(const DeliveryEvent& e, const std::string& key, const std::string& tags_json) {
  const std::string_view type = queue::to_string(e.state);
  const std::string& rcpt = e.msg->recipients[e.recipient];
  // Per-recipient chatter belongs at debug: at info a busy node would log thousands a second.
  if (spdlog::should_log(spdlog::level::debug))
    spdlog::debug("message {} to {}: {} (attempt {}, {} {}{}{})", e.msg->id, rcpt, type, e.attempts, e.reply.code,
                  e.reply.enhanced, e.reply.enhanced.empty() ? "" : " ", e.reply.text);
  if (!enabled()) return;
  if (pending_.size() >= kMaxPendingBytes) {
    ++dropped_lines_;
    return;
  }
  const AttemptTrace& t = e.attempt;
  DeliveryLogEntry line;
  line.type = type;
  line.at_ms = e.at_ms;
  line.message_id = e.msg->id;
  line.sender = e.msg->from;
  line.recipient = rcpt;
  line.key = key;
  line.tags_json = tags_json;
  line.site = e.site;
  line.peer = t.peer.get();
  line.reply = &e.reply;
  line.attempt = e.attempts;
  line.queued_ms = std::max<int64_t>(0, e.at_ms - e.msg->created_at_ms);
  if (t.started_ms) line.attempt_ms = std::max<int64_t>(0, e.at_ms - t.started_ms);
  append_delivery_line(pending_, line);
}

void DeliveryLog::admin(std::string_view action, const std::string& domain, const std::string& key,
                        const DomainOverride* now_in_force) {
  if (!enabled()) return;
  append_admin_line(pending_, AdminLogEntry{now_ms(), action, domain, key, now_in_force});
}

void DeliveryLog::flush() {
  if (!enabled() || !ring_) return;
  reopen_batch_.clear();
  if (reopen_requests_.drain(reopen_batch_)) reopen_wanted_ = true;
  // The file is only swapped between writes: the one in flight names the old fd.
  if (in_flight_) return;
  if (reopen_wanted_) reopen();
  if (pending_.empty()) return;
  if (fd_ < 0) {
    // The last open failed (a missing directory, a full disk); try again now and then.
    const int64_t now = now_ms();
    if (now < next_open_try_ms_ || !open_file()) {
      next_open_try_ms_ = std::max(next_open_try_ms_, now + 1000);
      return;
    }
  }
  if (max_bytes_ && file_bytes_ > 0 && file_bytes_ + pending_.size() > max_bytes_) rotate();
  if (fd_ < 0) return;
  writing_.swap(pending_);
  pending_.clear();
  written_ = 0;
  if (dropped_lines_ > dropped_reported_) {
    spdlog::warn("delivery log: {} line(s) dropped so far (the file could not keep up or was not writable)",
                 dropped_lines_);
    dropped_reported_ = dropped_lines_;
  }
  submit();
}

void DeliveryLog::submit() {
  // Offset -1: the file position, which O_APPEND keeps at the end even if logrotate's
  // copytruncate or another writer changed the file under us.
  io_uring_prep_write(ring_->sqe(this), fd_, writing_.data() + written_,
                      static_cast<unsigned>(writing_.size() - written_), static_cast<uint64_t>(-1));
  in_flight_ = true;
}

void DeliveryLog::on_complete(int res, uint32_t) {
  if (res > 0) {
    written_ += static_cast<std::size_t>(res);
    file_bytes_ += static_cast<uint64_t>(res);
    if (written_ < writing_.size()) return submit();  // a short write: the rest, at once
  } else if (res < 0) {
    // EIO, ENOSPC: these lines are lost (the spool, not this log, is what must not lose
    // anything). The next batch tries again.
    const auto lost = static_cast<uint64_t>(std::count(writing_.begin() + static_cast<std::ptrdiff_t>(written_),
                                                       writing_.end(), '\n'));
    dropped_lines_ += lost;
    spdlog::error("delivery log: write to {} failed: {}; {} line(s) lost", path_, std::strerror(-res), lost);
    dropped_reported_ = dropped_lines_;
  }
  in_flight_ = false;
  writing_.clear();
}

void DeliveryLog::reopen() {
  reopen_wanted_ = false;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!open_file()) {
    spdlog::error("delivery log: cannot reopen {}: {}", path_, std::strerror(errno));
    next_open_try_ms_ = now_ms() + 1000;
    return;
  }
  spdlog::info("delivery log: reopened {}", path_);
}

void DeliveryLog::rotate() {
  // path.(keep-1) → path.keep (replacing the oldest), …, path → path.1, then a fresh path.
  for (uint32_t i = keep_; i > 1; --i) {
    const std::string from = fmt::format("{}.{}", path_, i - 1);
    const std::string to = fmt::format("{}.{}", path_, i);
    if (::rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT)
      spdlog::warn("delivery log: cannot rename {} to {}: {}", from, to, std::strerror(errno));
  }
  const std::string first = path_ + ".1";
  if (::rename(path_.c_str(), first.c_str()) < 0) {
    // Keep appending to the file we have rather than lose lines.
    spdlog::error("delivery log: cannot rotate {}: {}", path_, std::strerror(errno));
    return;
  }
  ::close(fd_);
  fd_ = -1;
  if (!open_file()) {
    spdlog::error("delivery log: cannot open {} after rotating: {}", path_, std::strerror(errno));
    next_open_try_ms_ = now_ms() + 1000;
  }
}

void DeliveryLog::finish() {
  if (!enabled() || !ring_) return;
  const int64_t deadline = now_ms() + 10000;
  while ((in_flight_ || (!pending_.empty() && fd_ >= 0)) && now_ms() < deadline) {
    flush();
    if (in_flight_) ring_->run_once(50);
  }
  if (in_flight_) spdlog::error("delivery log: a write to {} did not finish while stopping", path_);
}

}  // namespace ringpost::engine
