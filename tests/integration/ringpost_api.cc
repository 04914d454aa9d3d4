// JSON request rendering and response parsing for the ringpost HTTP API.
#include "tests/integration/ringpost_api.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace ringpost::it {
namespace {

using simdjson::dom::element;

std::string clip(std::string_view s, std::size_t n = 600) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

tl::expected<element, std::string> parse(simdjson::dom::parser& p, std::string_view body) {
  element doc;
  if (auto err = p.parse(body.data(), body.size()).get(doc); err)
    return tl::unexpected(fmt::format("invalid JSON ({}): {:?}", simdjson::error_message(err), clip(body)));
  return doc;
}

tl::expected<HttpResponse, std::string> expect_status(tl::expected<HttpResponse, std::string> r, int want,
                                                      std::string_view what) {
  if (!r) return tl::unexpected(fmt::format("{}: {}", what, r.error()));
  if (r->status != want)
    return tl::unexpected(fmt::format("{}: HTTP {} (expected {}): {:?}", what, r->status, want, clip(r->body)));
  return r;
}

void collect_indexes(element e, bool under_index_key, std::vector<int64_t>& out) {
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  int64_t v = 0;
  if (!e.get(obj)) {
    for (auto [key, value] : obj)
      collect_indexes(value, key.find("index") != std::string_view::npos || key.find("indic") != std::string_view::npos,
                      out);
  } else if (!e.get(arr)) {
    for (element item : arr) collect_indexes(item, under_index_key, out);
  } else if (under_index_key && !e.get(v)) {
    out.push_back(v);
  }
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string to_json(const OutgoingMessage& m) {
  std::string to;
  for (const auto& r : m.to) to += (to.empty() ? "" : ",") + json_quote(r);
  return fmt::format(R"({{"from":{},"to":[{}],"subject":{},"text":{}{}}})", json_quote(m.from), to,
                     json_quote(m.subject), json_quote(m.text), m.smtputf8 ? R"(,"smtputf8":true)" : "");
}

std::string batch_json(std::span<const OutgoingMessage> msgs) {
  std::string out = R"({"messages":[)";
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (i) out += ',';
    out += to_json(msgs[i]);
  }
  return out + "]}";
}

tl::expected<std::string, std::string> RingpostApi::submit(const OutgoingMessage& m) {
  auto r = expect_status(http_.post_json("/v1/messages", to_json(m)), 202, "POST /v1/messages");
  if (!r) return tl::unexpected(r.error());
  simdjson::dom::parser p;
  auto doc = parse(p, r->body);
  if (!doc) return tl::unexpected(doc.error());
  std::string_view id;
  if ((*doc)["id"].get(id)) return tl::unexpected(fmt::format("202 without string \"id\": {:?}", clip(r->body)));
  return std::string(id);
}

tl::expected<std::vector<std::string>, std::string> RingpostApi::submit_batch(std::span<const OutgoingMessage> msgs) {
  auto r = expect_status(http_.post_json("/v1/messages/batch", batch_json(msgs)), 202, "POST /v1/messages/batch");
  if (!r) return tl::unexpected(r.error());
  simdjson::dom::parser p;
  auto doc = parse(p, r->body);
  if (!doc) return tl::unexpected(doc.error());
  simdjson::dom::array ids;
  if ((*doc)["ids"].get(ids)) return tl::unexpected(fmt::format("202 without \"ids\" array: {:?}", clip(r->body)));
  std::vector<std::string> out;
  for (element e : ids) {
    std::string_view id;
    if (e.get(id)) return tl::unexpected(fmt::format("non-string id in {:?}", clip(r->body)));
    out.emplace_back(id);
  }
  return out;
}

tl::expected<Stats, std::string> parse_stats(std::string_view body) {
  simdjson::dom::parser p;
  auto doc = parse(p, body);
  if (!doc) return tl::unexpected(doc.error());
  Stats s;
  element rc;
  if ((*doc)["recipients"].get(rc)) return tl::unexpected(fmt::format("stats without \"recipients\": {:?}", clip(body)));
  struct Field { const char* name; int64_t* dst; };
  for (Field f : {Field{"queued", &s.queued}, Field{"deferred", &s.deferred}, Field{"delivered", &s.delivered},
                  Field{"bounced", &s.bounced}, Field{"expired", &s.expired}}) {
    if (rc[f.name].get(*f.dst)) return tl::unexpected(fmt::format("stats.recipients.{} missing: {:?}", f.name, clip(body)));
  }
  if ((*doc)["connections_opened"].get(s.connections_opened))
    return tl::unexpected(fmt::format("stats.connections_opened missing: {:?}", clip(body)));
  if ((*doc)["transactions"].get(s.transactions))
    return tl::unexpected(fmt::format("stats.transactions missing: {:?}", clip(body)));
  if ((*doc)["sites"].get(s.sites)) s.sites = -1;
  if ((*doc)["dns_lookups"].get(s.dns_lookups)) s.dns_lookups = -1;
  return s;
}

tl::expected<Stats, std::string> RingpostApi::stats() {
  auto r = expect_status(http_.get("/v1/stats"), 200, "GET /v1/stats");
  if (!r) return tl::unexpected(r.error());
  return parse_stats(r->body);
}

tl::expected<MessageStatus, std::string> parse_message_status(std::string_view body) {
  simdjson::dom::parser p;
  auto doc = parse(p, body);
  if (!doc) return tl::unexpected(doc.error());
  MessageStatus m;
  std::string_view s;
  if ((*doc)["id"].get(s)) return tl::unexpected(fmt::format("status without \"id\": {:?}", clip(body)));
  m.id = s;
  if (!(*doc)["from"].get(s)) m.from = s;
  simdjson::dom::array rcpts;
  if ((*doc)["recipients"].get(rcpts))
    return tl::unexpected(fmt::format("status without \"recipients\" array: {:?}", clip(body)));
  for (element e : rcpts) {
    RecipientStatus r;
    if (e["address"].get(s)) return tl::unexpected(fmt::format("recipient without address: {:?}", clip(body)));
    r.address = s;
    if (e["state"].get(s)) return tl::unexpected(fmt::format("recipient without state: {:?}", clip(body)));
    r.state = s;
    int64_t attempts = 0;
    if (e["attempts"].get(attempts)) return tl::unexpected(fmt::format("recipient without attempts: {:?}", clip(body)));
    r.attempts = static_cast<int>(attempts);
    element lr;
    if (!e["last_reply"].get(lr) && lr.is_object()) {
      ReplyInfo info;
      int64_t code = 0;
      if (lr["code"].get(code)) return tl::unexpected(fmt::format("last_reply without code: {:?}", clip(body)));
      info.code = static_cast<int>(code);
      if (!lr["enhanced"].get(s)) info.enhanced = s;
      if (!lr["text"].get(s)) info.text = s;
      r.last_reply = std::move(info);
    }
    if (!e["next_attempt_at"].get(s)) r.next_attempt_at = std::string(s);
    m.recipients.push_back(std::move(r));
  }
  return m;
}

tl::expected<MessageStatus, std::string> RingpostApi::status(std::string_view id) {
  auto r = expect_status(http_.get(fmt::format("/v1/messages/{}", id)), 200, fmt::format("GET /v1/messages/{}", id));
  if (!r) return tl::unexpected(r.error());
  return parse_message_status(r->body);
}

std::optional<std::string> error_code_of(std::string_view body) {
  simdjson::dom::parser p;
  auto doc = parse(p, body);
  if (!doc) return std::nullopt;
  element code;
  if ((*doc)["error"]["code"].get(code)) return std::nullopt;
  std::string_view s;
  if (!code.get(s)) return std::string(s);
  int64_t n = 0;
  if (!code.get(n)) return std::to_string(n);
  return simdjson::to_string(code);
}

std::vector<int64_t> index_values_in(std::string_view body) {
  simdjson::dom::parser p;
  std::vector<int64_t> out;
  auto doc = parse(p, body);
  if (doc) collect_indexes(*doc, false, out);
  return out;
}

std::string summarize(const MessageStatus& m) {
  std::string out = m.id + ":";
  for (const auto& r : m.recipients) {
    out += fmt::format(" {} {} attempts={}", r.address, r.state, r.attempts);
    if (r.last_reply) out += fmt::format(" last_reply={} {} {:?}", r.last_reply->code, r.last_reply->enhanced, r.last_reply->text);
    if (r.next_attempt_at) out += fmt::format(" next_attempt_at={}", *r.next_attempt_at);
  }
  return out;
}

}  // namespace ringpost::it
