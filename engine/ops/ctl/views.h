// What `ringpost ctl` shows: the admin API's JSON answers (docs/shaping.md "Admin API",
// docs/api.md) turned into tables for people or into stable JSON for scripts. Pure functions
// over response bodies: no sockets, no clock, so each view is unit-tested from a canned body.
// A body that does not have the documented shape is an error naming what was missing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::ctl {

// `status`: GET /v1/domains sorted by queued (most first, then by name) and the totals of
// GET /v1/stats. text: a table and a totals paragraph; json: {"domains":[...],"stats":{...}}.
tl::expected<std::string, std::string> status_text(std::string_view domains_body, std::string_view stats_body);
tl::expected<std::string, std::string> status_json(std::string_view domains_body, std::string_view stats_body);

// `domain show|suspend|resume|throttle`: one domain object as "key  value" lines.
tl::expected<std::string, std::string> domain_text(std::string_view domain_body);

// `domain retry-now`: {"domain":"d","retried":N} → "d: N deferred recipients retried now".
tl::expected<std::string, std::string> retry_now_text(std::string_view body);

// `message show`: the message and one table row per recipient (state, attempts, last reply).
tl::expected<std::string, std::string> message_text(std::string_view message_body);

// `events tail`: one page of GET /v1/events.
struct Event {
  std::string cursor, type, at, message_id, recipient, reply;  // reply: "250 2.0.0 Ok" or ""
  int64_t attempts = 0;
  std::string json;  // the event object as the server sent it (minified), for --json
};
struct EventPage {
  std::vector<Event> events;
  std::string next_cursor;
};
tl::expected<EventPage, std::string> parse_events(std::string_view body);
// One line per event, columns of fixed width so lines printed over time (--follow) align.
std::string event_line(const Event& e);

// `{"error":{"code":"...","message":"..."}}` → "message (code)"; a body that is not one →
// the first 200 bytes of it, so the operator still sees what the server said.
std::string error_text(int http_status, std::string_view body);

}  // namespace ringpost::ctl
