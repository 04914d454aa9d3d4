// What crosses threads between the HTTP front and the shards. A SpooledMessage is built once by
// the front after its ACCEPT record is durable and is then immutable, so shards share it
// read-only without locks; recipients are referred to by their index in it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "queue/message.h"
#include "smtp/reply.h"

namespace ringpost::engine {

struct SpooledMessage {
  std::string id;
  std::string from;
  int64_t created_at_ms = 0;
  std::vector<std::string> recipients;
  std::shared_ptr<const std::string> body;
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
};

}  // namespace ringpost::engine
