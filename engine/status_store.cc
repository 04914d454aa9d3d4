// See status_store.h.
#include "engine/status_store.h"

#include <ctime>

#include <fmt/format.h>

#include "engine/api/bounce_class.h"
#include "engine/api/json_escape.h"

namespace ringpost::engine {

void StatusStore::add(queue::Message m) {
  m.body.reset();
  if (auto old = messages_.find(m.id); old != messages_.end())
    for (const queue::Recipient& r : old->second.recipients) --counts_[static_cast<std::size_t>(r.state)];
  for (const queue::Recipient& r : m.recipients) ++counts_[static_cast<std::size_t>(r.state)];
  std::string id = m.id;
  messages_.insert_or_assign(std::move(id), std::move(m));
}

bool StatusStore::apply(const std::string& id, uint32_t recipient, queue::RecipientState state, uint32_t attempts,
                        const smtp::Reply& reply, int64_t at_ms, const std::string& site, const std::string& host) {
  auto it = messages_.find(id);
  if (it == messages_.end() || recipient >= it->second.recipients.size()) return false;
  queue::Recipient& r = it->second.recipients[recipient];
  if (queue::is_final(r.state) && !queue::is_final(state)) return true;
  --counts_[static_cast<std::size_t>(r.state)];
  ++counts_[static_cast<std::size_t>(state)];
  if (attempts > r.attempts || reply.code != 0) {
    r.history.push_back(queue::Attempt{at_ms, host, state, reply});
    if (r.history.size() > queue::kMaxAttemptHistory) r.history.erase(r.history.begin());
  }
  r.state = state;
  r.attempts = attempts;
  r.last_reply = reply;
  r.updated_at_ms = at_ms;
  if (!site.empty()) r.site = site;
  return true;
}

void StatusStore::erase(const std::string& id) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  for (const queue::Recipient& r : it->second.recipients) --counts_[static_cast<std::size_t>(r.state)];
  messages_.erase(it);
}

bool all_final(const queue::Message& m) {
  for (const queue::Recipient& r : m.recipients)
    if (!queue::is_final(r.state)) return false;
  return true;
}

const queue::Message* StatusStore::find(const std::string& id) const {
  auto it = messages_.find(id);
  return it == messages_.end() ? nullptr : &it->second;
}

std::string rfc3339_ms(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

void append_reply_json(std::string& out, const smtp::Reply& reply) {
  if (reply.code == 0) {
    out += "null";
    return;
  }
  out += fmt::format("{{\"code\":{},\"enhanced\":", reply.code);
  api::append_json_string(out, reply.enhanced);
  out += ",\"text\":";
  api::append_json_string(out, reply.text);
  out += '}';
}

std::string message_status_json(const queue::Message& m) {
  std::string out = "{\"id\":";
  api::append_json_string(out, m.id);
  out += ",\"from\":";
  api::append_json_string(out, m.from);
  out += ",\"created_at\":\"" + rfc3339_ms(m.created_at_ms) + "\"";
  // Stored as the JSON objects' text (validated at submission), so echoed as they are.
  if (!m.tags_json.empty()) out += ",\"tags\":" + m.tags_json;
  if (!m.metadata_json.empty()) out += ",\"metadata\":" + m.metadata_json;
  out += ",\"recipients\":[";
  bool first = true;
  for (const queue::Recipient& r : m.recipients) {
    if (!first) out += ',';
    first = false;
    out += "{\"address\":";
    api::append_json_string(out, r.address);
    out += fmt::format(",\"state\":\"{}\",\"attempts\":{},\"last_reply\":", queue::to_string(r.state), r.attempts);
    append_reply_json(out, r.last_reply);
    out += ",\"updated_at\":\"" + rfc3339_ms(r.updated_at_ms ? r.updated_at_ms : m.created_at_ms) + "\"";
    if (!r.site.empty()) {
      out += ",\"site\":";
      api::append_json_string(out, r.site);
    }
    // Unfinished when the process last stopped: the attempt in flight then may have reached
    // the receiver, so a delivery after this may be the second one (at least once).
    if (r.recovered) out += ",\"recovered\":true";
    // What kind of failure, for agents that must not parse replies (RFC 3463 codes and text).
    if (r.last_reply.code >= 400)
      out += fmt::format(",\"classification\":\"{}\"",
                         api::classify_bounce(r.last_reply.code, r.last_reply.enhanced, r.last_reply.text));
    if (!r.history.empty()) {
      out += ",\"history\":[";
      for (std::size_t i = 0; i < r.history.size(); ++i) {
        const queue::Attempt& a = r.history[i];
        if (i) out += ',';
        out += fmt::format("{{\"at\":\"{}\",\"state\":\"{}\",\"host\":", rfc3339_ms(a.at_ms), queue::to_string(a.state));
        if (a.host.empty()) out += "null";
        else api::append_json_string(out, a.host);
        out += ",\"reply\":";
        append_reply_json(out, a.reply);
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace ringpost::engine
