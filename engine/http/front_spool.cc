// The front's side of the spool (docs/spool.md): the directory lock, recovery at start-up,
// acceptance (a 202 only after fdatasync), recording outcomes, and reclaiming segments whose
// messages are finished, oldest first, copying the few unfinished ones forward when needed.
// Front thread only, like everything in Front.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/api/api_error.h"
#include "engine/api/json_escape.h"
#include "engine/api/submit_request.h"
#include "engine/runtime/clock.h"
#include "engine/ops/delivery_log.h"
#include "engine/http/front.h"
#include "engine/http/webhooks.h"
#include "queue/spool_record.h"
#include "queue/spool_recovery.h"

namespace ringpost::engine {
namespace {

// Seconds a client is told to wait after a spool failure: long enough for an operator's
// cleanup or the disk's recovery, short enough that an agent's retry comes soon after.
constexpr int kSpoolRetryAfterSeconds = 5;
// After a failed compaction (disk full, say), try again this much later, not every loop.
constexpr int64_t kCompactionBackoffMs = 5000;

std::string spool_unavailable_json() {
  return api::to_json(api::ApiError{
      503, "spool_unavailable", "the message could not be written to disk; nothing was accepted; retry later", {}});
}

}  // namespace

tl::expected<void, std::string> Front::lock_spool() {
  std::error_code ec;
  std::filesystem::create_directories(cfg_.spool_dir, ec);
  if (ec) return tl::make_unexpected(fmt::format("{}: cannot create spool directory: {}", cfg_.spool_dir, ec.message()));
  const std::string path = cfg_.spool_dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return tl::make_unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  // flock, not a pid file alone: the kernel drops the lock when the holder dies, even by
  // kill -9, so a crash never leaves a stale lock behind for the restart to trip over.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err == EWOULDBLOCK)
      return tl::make_unexpected(fmt::format(
          "spool directory {} is locked by another ringpost process (pid {}); two processes must never share a spool",
          cfg_.spool_dir, holder));
    return tl::make_unexpected(fmt::format("{}: cannot lock: {}", path, std::strerror(err)));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) == 0) [[maybe_unused]] auto w = ::pwrite(fd, pid.data(), pid.size(), 0);
  spool_lock_fd_ = fd;
  return {};
}

tl::expected<std::size_t, std::string> Front::recover() {
  if (auto r = lock_spool(); !r) return tl::make_unexpected(r.error());
  // Bodies stay on disk: a spool of millions of queued messages need not fit in memory.
  auto recovered = queue::recover_spool(cfg_.spool_dir, queue::RecoveryOptions{.load_bodies = false});
  if (!recovered) return tl::make_unexpected(recovered.error());
  for (uint32_t i = 0; i < recovered->files.size(); ++i) {
    std::string path = cfg_.spool_dir + "/" + recovered->files[i];
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tl::make_unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
    struct stat st {};
    ::fstat(fd, &st);
    recovered_segments_.push_back(std::make_shared<const SegmentFile>(i, path, fd));
    ledger_.add_segment(i, static_cast<uint64_t>(st.st_size), now_ms());
    segment_paths_[i] = path;
  }
  std::size_t pending = 0;
  const int64_t now = now_ms();
  rebuild_idempotency(recovered->messages, now);  // before the messages are moved into the status store
  for (const queue::RecoveredIdempotent& r : recovered->idempotent) {
    // After the ACCEPT-derived answers: a carried record is in a later file than its ACCEPTs.
    if (r.record.expires_at_ms <= now) continue;
    idempotency_->put(r.record.owner, r.record.key,
                      IdempotentAnswer{r.record.request_hash, r.record.status, r.record.answer, r.record.expires_at_ms});
    idempotency_homes_.note(r.record.owner, r.record.key, r.file);
  }
  rebuild_feed(recovered->messages);
  for (queue::Message& m : recovered->messages) {
    auto s = std::make_shared<SpooledMessage>();
    s->id = m.id;
    s->from = m.from;
    s->created_at_ms = m.created_at_ms;
    s->send_at_ms = m.send_at_ms;
    s->segment_seq = m.body_at.file;
    s->body_at.store(std::make_shared<const BodyRef>(
        BodyRef{recovered_segments_[m.body_at.file], m.body_at.offset, m.body_at.size}));
    bool live = false;
    int64_t last_update = m.created_at_ms;
    for (queue::Recipient& r : m.recipients) {
      s->recipients.push_back(r.address);
      last_update = std::max(last_update, r.updated_at_ms);
      if (queue::is_final(r.state)) continue;
      r.recovered = true;
      live = true;
      ++pending;
    }
    ledger_.accepted(s->segment_seq, live);
    if (!live) {
      int64_t& finished = segment_finished_ms_[s->segment_seq];
      finished = std::max(finished, last_update);
    }
    if (live) {
      live_.emplace(s->id, s);
      dispatch(s, m.recipients, nullptr);  // the body is read back when a connection wants it
    } else if (last_update + cfg_.spool.status_retention.count() <= now) {
      continue;  // finished and past retention: nothing to show
    }
    status_.add(std::move(m));
  }
  const queue::RecoveryReport& rep = recovered->report;
  for (const std::string& w : rep.warnings) spdlog::warn("spool recovery: {}", w);
  if (rep.files)
    spdlog::info("spool: {} segment(s), {} messages ({} unfinished), {} torn tail(s), {} corrupt record(s)", rep.files,
                 rep.accepts, live_.size(), rep.torn_tails, rep.corrupt_records);
  for (const WebhookConfig& h : cfg_.webhooks) {
    // The dispatcher's own cursor file: until its first request, the front holds what it has
    // not acknowledged yet.
    std::string text;
    if (std::ifstream in(webhook_cursor_path(cfg_.spool_dir, h.name)); in) std::getline(in, text);
    const auto c = parse_cursor(text);
    webhook_acked_ms_[h.name] = c ? c->at_ms : -1;
  }
  return pending;
}

void Front::rebuild_idempotency(const std::vector<queue::Message>& messages, int64_t now) {
  // The messages of one request are consecutive ACCEPTs with the same value, in request order:
  // rebuild the answer it got.
  struct Req {
    char shape = 's';
    std::string owner, key, hash;
    int64_t created = 0;
    uint32_t home = 0;
    std::vector<const queue::Message*> msgs;
  };
  std::map<std::pair<std::string, std::string>, Req> reqs;
  for (const queue::Message& m : messages) {
    if (m.idempotency.empty() || m.created_at_ms + IdempotencyStore::kTtlMs <= now) continue;
    const auto nl1 = m.idempotency.find('\n'), nl2 = m.idempotency.rfind('\n');
    if (nl1 != 1 || nl2 <= nl1) continue;
    Req& r = reqs[{m.owner, m.idempotency.substr(2, nl2 - 2)}];
    r.shape = m.idempotency[0];
    r.owner = m.owner;
    r.key = m.idempotency.substr(2, nl2 - 2);
    r.hash = m.idempotency.substr(nl2 + 1);
    r.created = m.created_at_ms;
    r.home = m.body_at.file;  // the segment index is the recovered file's index
    r.msgs.push_back(&m);
  }
  for (auto& [slot, r] : reqs) {
    std::string body;
    if (r.shape == 'b') {
      body = "{\"ids\":[";
      for (std::size_t i = 0; i < r.msgs.size(); ++i) {
        if (i) body += ',';
        api::append_json_string(body, r.msgs[i]->id);
      }
      body += "]}";
    } else {
      body = "{\"id\":";
      api::append_json_string(body, r.msgs[0]->id);
      body += fmt::format(",\"recipients\":{}}}", r.msgs[0]->recipients.size());
    }
    idempotency_->put(r.owner, r.key, IdempotentAnswer{r.hash, 202, body, r.created + IdempotencyStore::kTtlMs});
    idempotency_homes_.note(r.owner, r.key, r.home);
  }
}

tl::expected<void, std::string> Front::open_spool() {
  SpoolWriterOptions options;
  options.segment_bytes = cfg_.spool.segment_bytes;
  options.first_seq = static_cast<uint32_t>(recovered_segments_.size());
  auto spool = SpoolWriter::open(*ring_, cfg_.spool_dir, options);
  if (!spool) return tl::make_unexpected(spool.error());
  spool_ = std::move(*spool);
  auto track = [this](const std::shared_ptr<const SegmentFile>& seg) {
    ledger_.add_segment(seg->seq, 0, now_ms());
    segment_paths_[seg->seq] = seg->path;
  };
  track(spool_->segment());
  spool_->on_new_segment(track);
  spool_->on_committed([this](const SegmentFile& seg, uint64_t bytes) { ledger_.add_bytes(seg.seq, bytes); });
  spool_->on_synced([this](int64_t ns) { metrics_.spool_synced(ns); });
  // Messages hold the files they need; the rest can close once reclaimed.
  recovered_segments_.clear();
  return {};
}

void Front::spool_and_answer(PendingAccept p) {
  auto conn = conns_.find(p.conn_id);
  // The records exactly as they will be appended (extension fields included), so the size
  // checked is the size written.
  std::vector<queue::AcceptRecord> records;
  records.reserve(p.msgs.size());
  for (std::size_t i = 0; i < p.msgs.size(); ++i) {
    const auto& s = p.msgs[i];
    queue::AcceptRecord& rec = records.emplace_back(
        queue::AcceptRecord{s->id, s->from, p.now_ms, s->recipients, *p.bodies[i], {}, std::nullopt});
    if (i < p.body_crcs.size()) rec.body_crc = p.body_crcs[i];
    if (!p.owner.empty()) rec.ext.emplace_back("owner", p.owner);
    if (!p.tags[i].empty()) rec.ext.emplace_back("tags", p.tags[i]);
    if (!p.metadata[i].empty()) rec.ext.emplace_back("metadata", p.metadata[i]);
    if (s->send_at_ms) rec.ext.emplace_back("send_at", std::to_string(s->send_at_ms));
    // Enough to rebuild the first answer after a restart: which request, and its shape.
    if (!p.idem.key.empty())
      rec.ext.emplace_back("idempotency", fmt::format("{}\n{}\n{}", p.idem.batch ? 'b' : 's', p.idem.key, p.idem.hash));
    if (queue::accept_payload_size(rec) > queue::kMaxRecordPayload)
      return drop_idempotency(p.idem), respond(p.conn_id, 413, api::to_json(api::ApiError{413, "message_too_large",
                                                                "a rendered message exceeds the spool's record limit", {}}));
  }
  // Checked above, before any record of the batch entered the buffer: a batch is all or nothing.
  // Each body's place in the commit is remembered so it can be read back from the file later.
  std::vector<uint64_t> body_pos(p.msgs.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    [[maybe_unused]] bool ok = queue::append_accept(spool_->buffer(), records[i]);
    body_pos[i] = spool_->buffer().size() - p.bodies[i]->size();  // the body ends the record
  }
  if (conn != conns_.end()) conn->second->busy = true;
  const uint64_t conn_id = p.conn_id;
  const bool batch = p.batch;
  spool_->when_durable([this, p = std::move(p), body_pos = std::move(body_pos), conn_id, batch](
                           bool ok, const SpoolWriter::Placement& at) {
    auto it = conns_.find(conn_id);
    if (it != conns_.end()) it->second->busy = false;
    if (!ok) {
      drop_idempotency(p.idem);
      respond(conn_id, 503, spool_unavailable_json(), false,
              fmt::format("Retry-After: {}\r\n", kSpoolRetryAfterSeconds));
    } else {
      std::string body = batch ? "{\"ids\":[" : "";
      for (std::size_t i = 0; i < p.msgs.size(); ++i) {
        const auto& s = p.msgs[i];
        s->segment_seq = at.file->seq;
        s->body_at.store(std::make_shared<const BodyRef>(
            BodyRef{at.file, at.offset + body_pos[i], static_cast<uint32_t>(p.bodies[i]->size())}));
        ledger_.accepted(s->segment_seq, true);
        live_.emplace(s->id, s);
        queue::Message m{s->id, s->from, s->created_at_ms, {}, nullptr, {}, p.owner, p.tags[i], p.metadata[i], {}};
        for (const std::string& r : s->recipients)
          m.recipients.push_back(queue::Recipient{r, queue::RecipientState::queued, 0, {}, s->created_at_ms, {}, false, {}});
        dispatch(s, m.recipients, p.bodies[i]);
        for (uint32_t r = 0; r < s->recipients.size(); ++r)
          feed(*s, r, "accepted", 0, {}, p.owner, p.tags[i], s->created_at_ms);
        delivery_log_->accepted(*s, p.owner, p.tags[i]);
        status_.add(std::move(m));
        if (batch) {
          if (i) body += ',';
          api::append_json_string(body, s->id);
        }
      }
      if (batch) {
        body += "]}";
      } else {
        body = "{\"id\":";
        api::append_json_string(body, p.msgs[0]->id);
        body += fmt::format(",\"recipients\":{}}}", p.msgs[0]->recipients.size());
      }
      if (!p.idem.key.empty()) {
        idempotency_->put(p.idem.owner, p.idem.key,
                          IdempotentAnswer{p.idem.hash, 202, body, p.now_ms + IdempotencyStore::kTtlMs});
        idempotency_homes_.note(p.idem.owner, p.idem.key, at.file->seq);
      }
      metrics_.accepted(p.owner, p.msgs, p.request_complete_ns);
      respond(conn_id, 202, body);
    }
    if (it != conns_.end()) process(*it->second);  // requests pipelined behind this one
  });
}

void Front::apply_events() {
  event_batch_.clear();
  while (events_.drain(event_batch_)) {
    work_ += event_batch_.size();
    for (const DeliveryEvent& e : event_batch_) {
      status_.apply(e.msg->id, e.recipient, e.state, e.attempts, e.reply, e.at_ms, e.site, e.host,
                    e.next_attempt_at_ms, e.hold);
      // An outcome record is small (the reply text is bounded by the SMTP reply parser), so
      // the size refusal cannot happen here; losing one would only mean a redelivery.
      // A hold is not an outcome: the spool keeps the recipient's last real one, so a restart
      // does not push its retry back to the hold's time.
      if (spool_ && !e.hold)
        [[maybe_unused]] bool ok = queue::append_outcome(
            spool_->buffer(), queue::OutcomeRecord{e.msg->id, e.recipient, e.state, e.attempts, e.at_ms, e.reply});
      const queue::Message* m = status_.find(e.msg->id);
      static const std::string kNone;
      const std::string& owner = m ? m->owner : kNone;
      const std::string& tags = m ? m->tags_json : kNone;
      // Agents see a held recipient's deferral in the feed; /metrics and the delivery log
      // count attempts, which a hold is not.
      if (!e.hold) metrics_.on_event(e, owner);
      feed(*e.msg, e.recipient, queue::to_string(e.state), e.attempts, e.reply, owner, tags, e.at_ms);
      if (!e.hold) delivery_log_->event(e, owner, tags);
      if (queue::is_final(e.state) && m && all_final(*m)) on_finished(*e.msg, e.at_ms);
    }
    event_batch_.clear();
  }
}

void Front::on_finished(const SpooledMessage& msg, int64_t finished_at_ms) {
  // live_ decides, so a repeated final event (a redelivery) is not counted twice.
  if (live_.erase(msg.id) == 0) return;
  ledger_.finished(msg.segment_seq);
  int64_t& f = segment_finished_ms_[msg.segment_seq];
  f = std::max(f, finished_at_ms);
}

void Front::expire_statuses() {
  // The store knows which messages finished when (final is final: none is in live_).
  work_ += status_.expire_finished_before(now_ms() - cfg_.spool.status_retention.count());
}

void Front::release_idle_memory() {
  api::release_parser_memory();
  if (spool_) spool_->release_idle_memory();
  status_.shrink();
  shrink_buckets(live_);
  shrink_buckets(conns_);
  shrink_buckets(awaiting_signature_);
  shrink_buckets(segment_finished_ms_);
  shrink_if_empty(event_batch_);
  shrink_if_empty(answer_batch_);
  shrink_if_empty(signed_batch_);
  if (started_.empty()) started_.shrink_to_fit();
  trim_heap();
}

void Front::reclaim() {
  if (!spool_) return;
  switch (ledger_.next_action(now_ms())) {
    case queue::SpoolLedger::Action::none: return;
    case queue::SpoolLedger::Action::delete_oldest: {
      if (carrying_idempotency_) return;
      const uint32_t seq = *ledger_.oldest();
      if (held_for_webhooks(seq, now_ms())) return;
      if (!carry_idempotency_then_delete(seq)) delete_segment(seq);
      return;
    }
    case queue::SpoolLedger::Action::compact_oldest:
      if (!compacting_ && now_ms() >= next_compaction_ms_) compact_oldest();
      return;
  }
}

bool Front::held_for_webhooks(uint32_t seq, int64_t now) {
  auto f = segment_finished_ms_.find(seq);
  if (f == segment_finished_ms_.end() || webhook_acked_ms_.empty()) return false;
  for (const auto& [name, acked] : webhook_acked_ms_) {
    if (acked >= f->second) continue;
    if (now - f->second < cfg_.spool.webhook_hold.count()) return true;
    spdlog::warn("spool: webhook {} is still behind segment {} after webhook_hold; deleting it: a restart "
                 "now would not resend those events", name, seq);
    return false;
  }
  return false;
}

void Front::delete_segment(uint32_t seq) {
  // Unlinking only drops the name; a shard still reading a body through its fd keeps the
  // data until it is done (SegmentFile). Synchronous: one metadata update per segment.
  const std::string& path = segment_paths_[seq];
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::error("spool: cannot delete finished segment {}: {}", path, std::strerror(errno));
    return;  // try again next time; nothing is lost by keeping it
  }
  spdlog::debug("spool: deleted finished segment {}", path);
  ledger_.remove(seq);
  segment_paths_.erase(seq);
  segment_finished_ms_.erase(seq);
  idempotency_homes_.forget_segment(seq);  // only expired answers are left homed there
}

bool Front::carry_idempotency_then_delete(uint32_t seq) {
  const int64_t now = now_ms();
  std::vector<std::pair<std::string, std::string>> carried;
  for (auto& [owner, key] : idempotency_homes_.homed_in(seq)) {
    const IdempotentAnswer* a = idempotency_->find(owner, key, now);
    if (!a || a->status == 0) continue;  // expired, or (cannot be) still in progress
    [[maybe_unused]] bool ok = queue::append_idempotent(
        spool_->buffer(), queue::IdempotentRecord{owner, key, a->request_hash, a->expires_at_ms, a->status, a->body});
    carried.emplace_back(std::move(owner), std::move(key));
  }
  if (carried.empty()) return false;
  carrying_idempotency_ = true;
  spool_->when_durable([this, seq, carried = std::move(carried)](bool ok, const SpoolWriter::Placement& at) {
    carrying_idempotency_ = false;
    if (!ok) return;  // the segment stays; the next reclaim tries again
    for (const auto& [owner, key] : carried) idempotency_homes_.note(owner, key, at.file->seq);
    delete_segment(seq);
  });
  return true;
}

void Front::compact_oldest() {
  const uint32_t from = *ledger_.oldest();
  std::vector<std::shared_ptr<const SpooledMessage>> moving;
  for (const auto& [id, s] : live_)
    if (s->segment_seq == from) moving.push_back(s);
  std::vector<uint64_t> body_pos;
  std::vector<uint32_t> body_size;
  std::string body;
  for (const auto& s : moving) {
    const auto at = s->body_at.load();
    body.resize(at->size);
    // A blocking read, on purpose: compaction moves at most a tenth of one segment, once per
    // segment, and the data was written recently enough to be in the page cache.
    if (::pread(at->file->fd, body.data(), at->size, static_cast<off_t>(at->offset)) != static_cast<ssize_t>(at->size)) {
      spdlog::error("spool: compaction cannot read {} from {}: {}", s->id, at->file->path, std::strerror(errno));
      next_compaction_ms_ = now_ms() + kCompactionBackoffMs;
      return;
    }
    const queue::Message* m = status_.find(s->id);
    queue::AcceptRecord rec{s->id, s->from, s->created_at_ms, s->recipients, body, {}, std::nullopt};
    if (m && !m->owner.empty()) rec.ext.emplace_back("owner", m->owner);  // the copy keeps its owner...
    if (m && !m->tags_json.empty()) rec.ext.emplace_back("tags", m->tags_json);  // ...tags and metadata
    if (m && !m->metadata_json.empty()) rec.ext.emplace_back("metadata", m->metadata_json);
    if (s->send_at_ms) rec.ext.emplace_back("send_at", std::to_string(s->send_at_ms));
    [[maybe_unused]] bool ok = queue::append_accept(spool_->buffer(), rec);
    body_pos.push_back(spool_->buffer().size() - body.size());
    body_size.push_back(at->size);
    // The copy carries the current state: recovery reads it after the ACCEPT copy, and ignores
    // the older OUTCOMEs (in segments between) as orphans once the original is gone.
    if (m)
      for (uint32_t r = 0; r < m->recipients.size(); ++r) {
        const queue::Recipient& rc = m->recipients[r];
        if (rc.state == queue::RecipientState::queued && rc.attempts == 0) continue;
        ok = queue::append_outcome(spool_->buffer(), queue::OutcomeRecord{s->id, r, rc.state, rc.attempts,
                                                                           rc.updated_at_ms, rc.last_reply});
      }
  }
  compacting_ = true;
  spool_->when_durable([this, from, path = segment_paths_[from], moving = std::move(moving), body_pos = std::move(body_pos),
                        body_size = std::move(body_size)](bool ok, const SpoolWriter::Placement& at) {
    compacting_ = false;
    if (!ok) {
      next_compaction_ms_ = now_ms() + kCompactionBackoffMs;
      return;
    }
    for (std::size_t i = 0; i < moving.size(); ++i) {
      const auto& s = moving[i];
      s->body_at.store(std::make_shared<const BodyRef>(BodyRef{at.file, at.offset + body_pos[i], body_size[i]}));
      // One that finished meanwhile was already counted off the old segment.
      if (!live_.count(s->id)) continue;
      s->segment_seq = at.file->seq;
      ledger_.moved(from, at.file->seq, 1);
    }
    if (const auto* seg = ledger_.find(from); seg && seg->live > 0) {
      // Only messages in live_ are owed anything; a count that says otherwise is stale.
      spdlog::warn("spool: segment {} still counted {} live message(s) after compaction; correcting", from, seg->live);
      ledger_.clear_live(from);
    }
    spdlog::info("spool: compacted segment {} ({} unfinished message(s) copied forward)", path, moving.size());
  });
}

std::string Front::spool_stats_json() const {
  return fmt::format(R"({{"segments":{},"bytes":{},"live_messages":{},"write_errors":{},"fdatasyncs":{}}})",
                     ledger_.segment_count(), ledger_.total_bytes(), live_.size(),
                     spool_ ? spool_->write_errors() : 0, spool_ ? spool_->syncs() : 0);
}

}  // namespace ringpost::engine
