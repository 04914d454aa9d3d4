// See server_stats.h.
#include "bench/load/server_stats.h"

#include <ctime>

#include <simdjson.h>

namespace ringpost::load {

StatsSnapshot read_stats(engine::BlockingHttpClient& http) {
  StatsSnapshot s;
  auto resp = http.request("GET", "/v1/stats");
  if (!resp || resp->status != 200) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(resp->body).get(e) != simdjson::SUCCESS) return s;
  auto get = [&](simdjson::dom::element v, uint64_t& out) {
    int64_t n = 0;
    if (v.get(n) == simdjson::SUCCESS && n >= 0) out = static_cast<uint64_t>(n);
  };
  simdjson::dom::element r;
  if (e["recipients"].get(r) != simdjson::SUCCESS) return s;
  get(r["delivered"], s.delivered);
  get(r["bounced"], s.bounced);
  get(r["expired"], s.expired);
  get(e["connections_opened"], s.connections_opened);
  get(e["transactions"], s.transactions);
  s.ok = true;
  return s;
}

int64_t parse_rfc3339_ms(std::string_view text) {
  std::tm tm{};
  int ms = 0;
  std::string t(text);
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm)) * 1000 + ms;
}

std::optional<int64_t> delivered_at_ms(engine::BlockingHttpClient& http, const std::string& id) {
  auto resp = http.request("GET", "/v1/messages/" + id);
  if (!resp || resp->status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element rcpt;
  if (parser.parse(resp->body)["recipients"].at(0).get(rcpt) != simdjson::SUCCESS) return std::nullopt;
  std::string_view state, updated;
  if (rcpt["state"].get(state) != simdjson::SUCCESS || state != "delivered") return std::nullopt;
  if (rcpt["updated_at"].get(updated) != simdjson::SUCCESS) return std::nullopt;
  int64_t ms = parse_rfc3339_ms(updated);
  if (ms < 0) return std::nullopt;
  return ms;
}

}  // namespace ringpost::load
