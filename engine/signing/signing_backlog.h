// How much the DKIM signing workers hold (messages and bytes handed over, not yet signed) and
// whether the front may hand them more: the bound that turns a burst of submits into waiting
// requests instead of a growing queue (docs/dkim.md "Backpressure"). A request is admitted
// while the backlog is under both bounds, so the backlog passes a bound by at most the one
// request admitted last (a request larger than a bound still gets through an empty backlog).
// Front thread only; pure bookkeeping.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ringpost::engine {

class SigningBacklog {
 public:
  SigningBacklog(uint64_t max_messages, uint64_t max_bytes) : max_messages_(max_messages), max_bytes_(max_bytes) {}

  bool full() const { return messages_ >= max_messages_ || bytes_ >= max_bytes_; }

  void add(uint64_t messages, uint64_t bytes) {
    messages_ += messages;
    bytes_ += bytes;
    peak_messages_ = std::max(peak_messages_, messages_);
    peak_bytes_ = std::max(peak_bytes_, bytes_);
  }
  void remove(uint64_t messages, uint64_t bytes) {
    messages_ -= std::min(messages, messages_);
    bytes_ -= std::min(bytes, bytes_);
  }

  uint64_t messages() const { return messages_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t peak_messages() const { return peak_messages_; }  // since start, for /v1/stats
  uint64_t peak_bytes() const { return peak_bytes_; }

 private:
  uint64_t max_messages_, max_bytes_;
  uint64_t messages_ = 0, bytes_ = 0;
  uint64_t peak_messages_ = 0, peak_bytes_ = 0;
};

}  // namespace ringpost::engine
