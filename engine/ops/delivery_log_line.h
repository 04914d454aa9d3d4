// The delivery log's line format (docs/delivery-log.md, docs/delivery-log.schema.json): one JSON
// object per line, one line per event. Pure functions over plain data: no clock, no I/O, any
// thread. Invariant: whatever the input bytes, each call appends exactly one line of valid JSON
// ending in '\n' (strings go through api::append_json_string), so a reader can split on '\n'.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/delivery/attempt_peer.h"
#include "smtp/reply.h"

namespace ringpost::engine {

struct DomainOverride;

// A recipient's event: accepted, delivered, deferred, bounced or expired.
struct DeliveryLogEntry {
  std::string_view type;
  int64_t at_ms = 0;
  std::string_view message_id;
  std::string_view sender;
  std::string_view recipient;
  std::string_view key;        // the API key that submitted the message; empty without keys
  std::string_view tags_json;  // the message's tags as a JSON object's text; empty: none
  std::string_view site;       // empty before routing
  const AttemptPeer* peer = nullptr;    // null: no connection carried the attempt
  const smtp::Reply* reply = nullptr;   // null or code 0: no reply
  int64_t attempt = -1;                 // attempts made so far; < 0: omitted (accepted)
  int64_t queued_ms = -1;               // since acceptance; < 0: omitted
  int64_t attempt_ms = -1;              // the attempt's transaction; < 0: omitted
};

// An operator's action through the admin API (docs/shaping.md).
struct AdminLogEntry {
  int64_t at_ms = 0;
  std::string_view action;  // suspend, resume, throttle, retry-now, bounce-all
  std::string_view domain;
  std::string_view key;     // the admin key's name; empty: the admin_token
  const DomainOverride* override_after = nullptr;  // suspend / throttle / bounce-all: what is now in force
};

void append_delivery_line(std::string& out, const DeliveryLogEntry& e);
void append_admin_line(std::string& out, const AdminLogEntry& e);

}  // namespace ringpost::engine
