// GET /v1/events?after=<cursor>&limit=<1..1000>&wait=<0..60 s> (docs/api.md "Events"). With
// `wait`, a request that finds nothing new is parked until an event arrives or the time is up:
// agents learn of a delivery within one loop iteration without polling hard. Front thread only.
#include <charconv>

#include <fmt/format.h>

#include "engine/api/api_error.h"
#include "engine/runtime/clock.h"
#include "engine/http/front.h"

namespace ringpost::engine {
namespace {

// The value of `name` in the query string (no percent-decoding: cursors and numbers only).
std::optional<std::string_view> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> int_param(std::string_view v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

}  // namespace

void Front::handle_events(Conn& c, const HttpRequest& req) {
  auto bad = [&](std::string field, std::string message) {
    respond(c.id, 400, api::to_json(api::ApiError{400, "invalid_parameter", std::move(message), std::move(field)}));
  };
  FeedWait w;
  w.conn_id = c.id;
  w.cursor_text = std::string(query_param(req.target, "after").value_or(""));
  auto cursor = parse_cursor(w.cursor_text);
  if (!cursor) return bad("after", fmt::format("'{}' is not a cursor from this feed", w.cursor_text));
  w.cursor = *cursor;
  if (auto l = query_param(req.target, "limit")) {
    auto n = int_param(*l);
    if (!n || *n < 1 || *n > 1000) return bad("limit", "limit must be an integer from 1 to 1000");
    w.limit = static_cast<std::size_t>(*n);
  }
  int64_t wait_s = 0;
  if (auto v = query_param(req.target, "wait")) {
    auto n = int_param(*v);
    if (!n || *n < 0 || *n > 60) return bad("wait", "wait must be an integer number of seconds from 0 to 60");
    wait_s = *n;
  }
  // Events after this cursor were dropped ([limits] event_feed_max): say so, with where to
  // resume, rather than answer the next page and hide the gap.
  if (feed_.expired(w.cursor))
    return respond(c.id, 410, cursor_expired_json(w.cursor_text, feed_.oldest_cursor(), feed_.capacity()));
  w.owner = c.key ? c.key->name : std::string();
  w.all = !c.key || c.key->role == ApiKey::Role::admin;
  if (auto hook = query_param(req.target, "webhook"); hook && w.all)
    if (auto it = webhook_acked_ms_.find(std::string(*hook)); it != webhook_acked_ms_.end())
      it->second = std::max(it->second, w.cursor.at_ms);
  auto events = feed_.after(w.cursor, w.limit, w.owner, w.all);
  if (!events.empty() || wait_s == 0) return respond(c.id, 200, feed_json(events, w.cursor_text));
  w.deadline_ms = now_ms() + wait_s * 1000;
  c.busy = true;  // requests pipelined behind a long poll wait for it
  feed_waits_.push_back(std::move(w));
}

void Front::feed(const SpooledMessage& msg, uint32_t recipient, std::string_view type, uint32_t attempts,
                 const smtp::Reply& reply, const std::string& owner, const std::string& tags, int64_t at_ms) {
  feed_.append(FeedEvent{0, 0, std::string(type), msg.id, msg.recipients[recipient], owner, attempts, reply, tags},
               at_ms);
  feed_grew_ = true;
}

void Front::wake_feed_waiters(bool expire_only) {
  if (feed_waits_.empty()) {
    feed_grew_ = false;
    return;
  }
  if (expire_only && !feed_grew_) {
    // Nothing new: only deadlines can have passed.
    const int64_t now = now_ms();
    bool due = false;
    for (const FeedWait& w : feed_waits_) due = due || w.deadline_ms <= now;
    if (!due) return;
  }
  const int64_t now = now_ms();
  std::vector<FeedWait> still;
  for (FeedWait& w : feed_waits_) {
    // More than the feed holds can arrive in one turn (a batch): the waiter's cursor fell out.
    const bool expired = feed_.expired(w.cursor);
    auto events = feed_grew_ && !expired ? feed_.after(w.cursor, w.limit, w.owner, w.all)
                                         : std::vector<FeedEvent>{};
    if (!expired && events.empty() && now < w.deadline_ms && conns_.count(w.conn_id)) {
      still.push_back(std::move(w));
      continue;
    }
    auto c = conns_.find(w.conn_id);
    if (c == conns_.end()) continue;  // the client left
    c->second->busy = false;
    if (expired)
      respond(w.conn_id, 410, cursor_expired_json(w.cursor_text, feed_.oldest_cursor(), feed_.capacity()));
    else
      respond(w.conn_id, 200, feed_json(events, w.cursor_text));
    process(*c->second);
  }
  feed_waits_.swap(still);
  feed_grew_ = false;
}

void Front::rebuild_feed(const std::vector<queue::Message>& messages) {
  // Only what the spool still holds: the acceptance and the latest state of each recipient,
  // in time order. Earlier deferrals were replaced by later outcomes and are not repeated.
  struct Item {
    int64_t at;
    const queue::Message* m;
    uint32_t r;
    bool accepted;
  };
  std::vector<Item> items;
  for (const queue::Message& m : messages)
    for (uint32_t r = 0; r < m.recipients.size(); ++r) {
      items.push_back({m.created_at_ms, &m, r, true});
      if (m.recipients[r].attempts > 0 || queue::is_final(m.recipients[r].state))
        items.push_back({m.recipients[r].updated_at_ms, &m, r, false});
    }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.at < b.at; });
  for (const Item& i : items) {
    const queue::Recipient& rc = i.m->recipients[i.r];
    feed_.append(FeedEvent{0, 0, i.accepted ? "accepted" : std::string(queue::to_string(rc.state)), i.m->id,
                           rc.address, i.m->owner, i.accepted ? 0 : rc.attempts,
                           i.accepted ? smtp::Reply{} : rc.last_reply, i.m->tags_json},
                 i.at);
  }
}

}  // namespace ringpost::engine
