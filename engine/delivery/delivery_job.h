// What crosses threads between the HTTP front and the shards. A SpooledMessage is built once by
// the front after its ACCEPT record is durable and is then immutable (but for the body's
// location, an atomic that compaction swaps), so shards share it read-only without locks;
// recipients are referred to by their index in it. The body travels with the job, not with the
// message: a delivery that waits for a retry drops it and reads it back from the spool, so
// queued mail costs memory for its envelope only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/delivery/attempt_peer.h"
#include "engine/spool/segment_file.h"
#include "queue/message.h"
#include "smtp/reply.h"

namespace ringpost::engine {

struct SpooledMessage {
  std::string id;
  std::string from;
  int64_t created_at_ms = 0;
  int64_t send_at_ms = 0;  // scheduled send: no attempt before this (0 = at once)
  std::vector<std::string> recipients;
  // Where the body lies on disk. Written by the front (compaction), read by shards loading a
  // body; std::atomic<shared_ptr> keeps the old location alive for a reader that got it.
  mutable std::atomic<std::shared_ptr<const BodyRef>> body_at;
  // The front thread's bookkeeping: the segment holding this message's ACCEPT record.
  mutable uint32_t segment_seq = 0;
};

struct RecipientRef {
  uint32_t index = 0;     // into SpooledMessage::recipients
  uint32_t attempts = 0;  // attempts already made (from the spool after a restart)
};

// Front → shard: deliver these recipients of msg, all in one destination domain.
struct DeliveryJob {
  std::shared_ptr<const SpooledMessage> msg;
  std::string domain;
  std::vector<RecipientRef> recipients;
  std::shared_ptr<const std::string> body;  // null: still on disk (msg->body_at)
  // A recovered deferral keeps its retry time across a restart: no attempt before this.
  int64_t not_before_ms = 0;
};

// Shard → front: one recipient changed state.
struct DeliveryEvent {
  std::shared_ptr<const SpooledMessage> msg;
  uint32_t recipient = 0;
  queue::RecipientState state = queue::RecipientState::queued;
  uint32_t attempts = 0;
  smtp::Reply reply;
  int64_t at_ms = 0;
  std::string site;  // the site (MX host set or route) the attempt went to; empty before routing
  std::string host;  // the endpoint (MX host and address) that answered; empty without a connection
  AttemptTrace attempt;  // for the delivery log: the connection's address and TLS, the attempt's start
  // deferred: when the next attempt is due (GET /v1/messages/{id} next_attempt_at); 0 = unknown.
  int64_t next_attempt_at_ms = 0;
  // Not an attempt: the recipient waits at a suspended site (a [[rules]] suspension) or for its
  // domain's operator suspension to end. Shown in the status (deferred, the reply that caused
  // it, next_attempt_at) and the event feed; not spooled, not counted in /metrics, not in the
  // delivery log, not added to the attempt history (docs/shaping.md "Held mail").
  bool hold = false;
};

}  // namespace ringpost::engine
