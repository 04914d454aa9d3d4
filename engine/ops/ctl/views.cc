// See views.h. Field names follow engine/http/front_admin.cc (domain objects), engine/http/front_api.cc
// (stats), engine/http/status_store.cc (message status) and engine/http/front_events.cc (events).
#include "engine/ops/ctl/views.h"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/ops/ctl/table.h"

namespace ringpost::ctl {
namespace {

using simdjson::dom::element;

// One parsed body. The parser owns the document, so it lives as long as the elements used.
struct Doc {
  simdjson::dom::parser parser;
  element root;
  tl::expected<void, std::string> parse(std::string_view body, std::string_view what) {
    if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS)
      return tl::make_unexpected(fmt::format("{}: the server's answer is not JSON: {}", what, body.substr(0, 200)));
    return {};
  }
};

// A scalar as text: strings as they are, numbers without noise, null as `none`.
std::string scalar(element e, std::string_view none = "-") {
  if (e.is_null()) return std::string(none);
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t i = 0;
  if (e.get(i) == simdjson::SUCCESS) return fmt::format("{}", i);
  double d = 0;
  if (e.get(d) == simdjson::SUCCESS) return fmt::format("{}", d);
  bool b = false;
  if (e.get(b) == simdjson::SUCCESS) return b ? "true" : "false";
  return simdjson::minify(e);
}

// parent[key] as text; missing counts as null.
std::string text(element parent, std::string_view key, std::string_view none = "-") {
  element e;
  if (parent[key].get(e) != simdjson::SUCCESS) return std::string(none);
  return scalar(e, none);
}

int64_t integer(element parent, std::string_view key) {
  int64_t i = 0;
  return parent[key].get(i) == simdjson::SUCCESS ? i : 0;
}

// {"code":250,"enhanced":"2.0.0","text":"Ok"} → "250 2.0.0 Ok"; null → "".
std::string reply_text(element parent, std::string_view key) {
  element r;
  if (parent[key].get(r) != simdjson::SUCCESS || r.is_null()) return {};
  std::string out = text(r, "code", "");
  for (std::string_view part : {std::string_view("enhanced"), std::string_view("text")}) {
    std::string s = text(r, part, "");
    if (!s.empty()) out += (out.empty() ? "" : " ") + s;
  }
  return out;
}

// suspended / throttled / active, from a domain object.
std::string state_text(element d) {
  const std::string suspended = text(d, "suspended_until", "");
  if (!suspended.empty()) return "suspended until " + suspended;
  const std::string throttled = text(d, "throttled_until", "");
  if (!throttled.empty()) return fmt::format("throttled to {}/s until {}", text(d, "throttled_msgs_per_second"), throttled);
  return "active";
}

std::string rate_text(element d) {
  double r = 0;
  if (d["msgs_per_second_measured"].get(r) != simdjson::SUCCESS) return "-";
  return fmt::format("{:.1f}", r);
}

tl::expected<std::vector<element>, std::string> sorted_domains(element root) {
  simdjson::dom::array list;
  if (root["domains"].get(list) != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("GET /v1/domains: no \"domains\" array in {}", simdjson::minify(root).substr(0, 200)));
  std::vector<element> out(list.begin(), list.end());
  // Most queued first: that is where an operator looks; ties by name so the order is stable.
  std::stable_sort(out.begin(), out.end(), [](element a, element b) {
    const int64_t qa = integer(a, "queued"), qb = integer(b, "queued");
    if (qa != qb) return qa > qb;
    return text(a, "domain") < text(b, "domain");
  });
  return out;
}

}  // namespace

tl::expected<std::string, std::string> status_text(std::string_view domains_body, std::string_view stats_body) {
  Doc domains, stats;
  if (auto r = domains.parse(domains_body, "GET /v1/domains"); !r) return tl::make_unexpected(r.error());
  if (auto r = stats.parse(stats_body, "GET /v1/stats"); !r) return tl::make_unexpected(r.error());
  auto list = sorted_domains(domains.root);
  if (!list) return tl::make_unexpected(list.error());
  std::vector<Row> rows;
  for (element d : *list) {
    element limits;
    std::string limit = "-";
    if (d["limits"].get(limits) == simdjson::SUCCESS) limit = text(limits, "msgs_per_second", "unlimited");
    rows.push_back({text(d, "domain"), text(d, "queued"), text(d, "in_flight"), text(d, "connections"), rate_text(d),
                    limit, state_text(d), text(d, "site"), reply_text(d, "last_error")});
  }
  std::string out = rows.empty() ? std::string("no domains known yet\n")
                                 : render_table({"DOMAIN", "QUEUED", "IN FLIGHT", "CONNS", "RATE/S", "LIMIT/S", "STATE",
                                                 "SITE", "LAST ERROR"},
                                                rows, {1, 2, 3, 4, 5});
  element s = stats.root, rc;
  if (s["recipients"].get(rc) != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("GET /v1/stats: no \"recipients\" in {}", stats_body.substr(0, 200)));
  out += fmt::format("\nmessages {}; recipients: queued {}, deferred {}, delivered {}, bounced {}, expired {}\n",
                     text(s, "messages"), text(rc, "queued"), text(rc, "deferred"), text(rc, "delivered"),
                     text(rc, "bounced"), text(rc, "expired"));
  out += fmt::format("connections opened {}; transactions {}; shards {}\n", text(s, "connections_opened"),
                     text(s, "transactions"), text(s, "shards"));
  return out;
}

tl::expected<std::string, std::string> status_json(std::string_view domains_body, std::string_view stats_body) {
  Doc domains, stats;
  if (auto r = domains.parse(domains_body, "GET /v1/domains"); !r) return tl::make_unexpected(r.error());
  if (auto r = stats.parse(stats_body, "GET /v1/stats"); !r) return tl::make_unexpected(r.error());
  auto list = sorted_domains(domains.root);
  if (!list) return tl::make_unexpected(list.error());
  std::string out = "{\"domains\":[";
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (i) out += ',';
    out += simdjson::minify((*list)[i]);
  }
  out += "],\"stats\":" + simdjson::minify(stats.root) + "}\n";
  return out;
}

tl::expected<std::string, std::string> domain_text(std::string_view domain_body) {
  Doc doc;
  if (auto r = doc.parse(domain_body, "domain"); !r) return tl::make_unexpected(r.error());
  element d = doc.root;
  if (d["domain"].error() != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("not a domain object: {}", domain_body.substr(0, 200)));
  std::vector<std::pair<std::string, std::string>> f{
      {"domain", text(d, "domain")},
      {"site", text(d, "site")},
      {"state", state_text(d)},
      {"queued", text(d, "queued")},
      {"in flight", text(d, "in_flight")},
      {"connections", text(d, "connections")},
      {"measured rate", rate_text(d) + " msgs/s"},
  };
  simdjson::dom::object limits;
  if (d["limits"].get(limits) == simdjson::SUCCESS)
    for (auto field : limits) f.emplace_back(fmt::format("limits.{}", field.key), scalar(field.value, "unlimited"));
  std::string last = reply_text(d, "last_error");
  if (!last.empty()) {
    element e;
    if (d["last_error"].get(e) == simdjson::SUCCESS) last += fmt::format(" (at {})", text(e, "at"));
  }
  f.emplace_back("last error", last.empty() ? "-" : last);
  return render_fields(f);
}

tl::expected<std::string, std::string> retry_now_text(std::string_view body) {
  Doc doc;
  if (auto r = doc.parse(body, "retry-now"); !r) return tl::make_unexpected(r.error());
  if (doc.root["retried"].error() != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("retry-now: no \"retried\" in {}", body.substr(0, 200)));
  return fmt::format("{}: {} deferred recipients retried now\n", text(doc.root, "domain"), text(doc.root, "retried"));
}

tl::expected<std::string, std::string> message_text(std::string_view message_body) {
  Doc doc;
  if (auto r = doc.parse(message_body, "message"); !r) return tl::make_unexpected(r.error());
  element m = doc.root;
  simdjson::dom::array recipients;
  if (m["recipients"].get(recipients) != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("not a message status: {}", message_body.substr(0, 200)));
  std::vector<std::pair<std::string, std::string>> f{
      {"id", text(m, "id")}, {"from", text(m, "from")}, {"created", text(m, "created_at")}};
  element tags;
  if (m["tags"].get(tags) == simdjson::SUCCESS) f.emplace_back("tags", simdjson::minify(tags));
  std::vector<Row> rows;
  for (element r : recipients) {
    std::string reply = reply_text(r, "last_reply");
    if (std::string c = text(r, "classification", ""); !c.empty()) reply += " [" + c + "]";
    rows.push_back({text(r, "address"), text(r, "state"), text(r, "attempts"), text(r, "updated_at"), text(r, "site"),
                    reply.empty() ? "-" : reply});
  }
  return render_fields(f) + "\n" +
         render_table({"RECIPIENT", "STATE", "ATTEMPTS", "UPDATED", "SITE", "LAST REPLY"}, rows, {2});
}

tl::expected<EventPage, std::string> parse_events(std::string_view body) {
  Doc doc;
  if (auto r = doc.parse(body, "GET /v1/events"); !r) return tl::make_unexpected(r.error());
  EventPage page;
  simdjson::dom::array events;
  std::string_view next;
  if (doc.root["events"].get(events) != simdjson::SUCCESS || doc.root["next_cursor"].get(next) != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("GET /v1/events: no \"events\" or \"next_cursor\" in {}", body.substr(0, 200)));
  page.next_cursor = std::string(next);
  for (element e : events) {
    page.events.push_back(Event{text(e, "cursor"), text(e, "type"), text(e, "at"), text(e, "message_id"),
                                text(e, "recipient"), reply_text(e, "reply"), integer(e, "attempts"),
                                simdjson::minify(e)});
  }
  return page;
}

std::string event_line(const Event& e) {
  std::string line = fmt::format("{:<24}  {:<9}  {:<26}  {}  attempt {}", e.at, e.type, e.message_id, e.recipient,
                                 e.attempts);
  if (!e.reply.empty()) line += "  " + e.reply;
  return line;
}

std::string error_text(int http_status, std::string_view body) {
  simdjson::dom::parser parser;
  element root;
  std::string_view message, code;
  if (parser.parse(simdjson::padded_string(body)).get(root) == simdjson::SUCCESS &&
      root["error"]["message"].get(message) == simdjson::SUCCESS) {
    if (root["error"]["code"].get(code) == simdjson::SUCCESS) return fmt::format("{} ({} {})", message, http_status, code);
    return fmt::format("{} ({})", message, http_status);
  }
  return fmt::format("HTTP {}: {}", http_status, body.substr(0, 200));
}

}  // namespace ringpost::ctl
