// DKIM signing off the HTTP front's io_uring loop. A dual RSA-2048 + Ed25519 signature costs
// about 300 µs of CPU (the RSA signature itself), so a 1,000-message batch signed inline would
// stall every other HTTP client for a third of a second. The
// front hands a request's rendered messages to this pool as one SignJob; the pool cuts it into
// chunks that its worker threads sign in parallel, each with its own dkim::Signer (a Signer is
// single-threaded), and the worker that finishes the last chunk posts the job back through
// the front's mailbox, which wakes the front's ring. Workers share nothing but the job being
// signed, each writing only its own chunk's items.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/signing/dkim_policy.h"
#include "engine/runtime/mailbox.h"

#pragma push_macro("BLOCK_SIZE")
#undef BLOCK_SIZE
#include <concurrentqueue/blockingconcurrentqueue.h>
#pragma pop_macro("BLOCK_SIZE")

namespace ringpost::engine {

struct SignItem {
  std::string message;  // signed in place (the DKIM-Signature fields are prepended)
  RequestField field;   // what an error blames
  std::optional<api::ApiError> error;
  std::optional<uint32_t> crc;  // of the signed message, when it was signed (sign_at_acceptance)
};

struct SignJob {
  uint64_t tag = 0;  // the submitter's handle for the request waiting on this job
  std::shared_ptr<const DkimPolicy> policy;
  // The submitting key's allowed_from (empty: any, or no keys): no signature is made with a
  // d= outside it, whatever the From header says (docs/dkim.md "Whose key signs").
  std::vector<std::string> allowed_from;
  int64_t now_unix_seconds = 0;
  std::vector<SignItem> items;
  uint64_t bytes = 0;  // the items' message bytes when submitted (the front's backlog count)
  std::atomic<uint32_t> chunks_left{0};  // the pool's; the last chunk to finish posts the job
};

class SigningPool {
 public:
  // Starts `threads` workers; finished jobs are pushed to `done` (and done.notify()).
  SigningPool(uint32_t threads, Mailbox<std::unique_ptr<SignJob>>& done);
  ~SigningPool();  // finishes queued chunks, then joins
  SigningPool(const SigningPool&) = delete;
  SigningPool& operator=(const SigningPool&) = delete;

  void submit(std::unique_ptr<SignJob> job);
  uint32_t threads() const { return static_cast<uint32_t>(workers_.size()); }

 private:
  struct Chunk {
    SignJob* job = nullptr;  // nullptr: a worker's signal to stop
    uint32_t begin = 0, end = 0;
  };
  void work();

  Mailbox<std::unique_ptr<SignJob>>& done_;
  moodycamel::BlockingConcurrentQueue<Chunk> chunks_;
  std::vector<std::thread> workers_;
};

}  // namespace ringpost::engine
