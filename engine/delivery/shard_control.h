// Admin requests from the front to every shard, and their answers: what the shards know about
// destinations (GET /v1/domains) and the operations that must happen on the thread that owns
// the queues (retry-now, bounce-all). A request goes to every shard's control mailbox; each
// answers once through the front's; the front answers the HTTP request when all have.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/delivery/site.h"
#include "smtp/reply.h"

namespace ringpost::engine {

struct ShardCommand {
  enum class Kind : uint8_t { snapshot, retry_now, bounce_all };
  uint64_t request_id = 0;
  Kind kind = Kind::snapshot;
  std::string domain;  // empty with snapshot: every site
  smtp::Reply reply;   // bounce_all: what the recipients are bounced with
};

struct ShardAnswer {
  uint64_t request_id = 0;
  uint32_t shard = 0;
  std::vector<Site::Snapshot> sites;
  // Deliveries of a domain waiting on this shard outside any site: for a retry, or for a route.
  std::map<std::string, std::size_t> waiting_by_domain;
  std::size_t affected = 0;  // recipients retried or bounced
};

}  // namespace ringpost::engine
