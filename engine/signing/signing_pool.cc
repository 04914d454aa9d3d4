// See signing_pool.h.
#include "engine/signing/signing_pool.h"

#include <algorithm>

#include <pthread.h>

#include "dkim/signer.h"

namespace ringpost::engine {

SigningPool::SigningPool(uint32_t threads, Mailbox<std::unique_ptr<SignJob>>& done) : done_(done) {
  threads = std::max<uint32_t>(threads, 1);
  for (uint32_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this] { work(); });
    pthread_setname_np(workers_.back().native_handle(), "ringpost-dkim");
  }
}

SigningPool::~SigningPool() {
  for (std::size_t i = 0; i < workers_.size(); ++i) chunks_.enqueue(Chunk{});
  for (std::thread& t : workers_) t.join();
}

void SigningPool::submit(std::unique_ptr<SignJob> job) {
  const uint32_t n = static_cast<uint32_t>(job->items.size());
  // A few chunks per worker, so a worker that is slowed (by a shard sharing its core) does not
  // hold the whole request back; not one per message, to keep queue traffic small.
  const uint32_t chunks = std::clamp<uint32_t>(threads() * 4, 1, std::max<uint32_t>(n, 1));
  const uint32_t per = (n + chunks - 1) / chunks;
  uint32_t count = n == 0 ? 1 : (n + per - 1) / per;
  job->chunks_left.store(count, std::memory_order_relaxed);
  SignJob* raw = job.release();  // owned by the chunks until the last one posts it back
  if (n == 0) {
    chunks_.enqueue(Chunk{raw, 0, 0});
    return;
  }
  for (uint32_t begin = 0; begin < n; begin += per) chunks_.enqueue(Chunk{raw, begin, std::min(n, begin + per)});
}

void SigningPool::work() {
  dkim::Signer signer;  // one per worker: a Signer is used by one thread at a time
  Chunk c;
  for (;;) {
    chunks_.wait_dequeue(c);
    if (!c.job) return;
    SignJob& job = *c.job;
    for (uint32_t i = c.begin; i < c.end; ++i) {
      SignItem& item = job.items[i];
      if (auto ok = sign_at_acceptance(signer, *job.policy, item.message, job.now_unix_seconds, item.field, job.allowed_from))
        item.crc = *ok;
      else
        item.error = std::move(ok.error());
    }
    // acq_rel: the worker that posts the job must see every other chunk's writes.
    if (job.chunks_left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done_.push(std::unique_ptr<SignJob>(c.job));
      done_.notify();
    }
  }
}

}  // namespace ringpost::engine
