// See delivery_log_line.h. Fields that do not apply are left out rather than written as null,
// which keeps the common lines short; the schema lists which ones each type always has.
#include "engine/ops/delivery_log_line.h"

#include <charconv>
#include <chrono>
#include <concepts>

#include <fmt/format.h>

#include "engine/api/json_escape.h"
#include "engine/delivery/live_policy.h"
#include "engine/http/status_store.h"

namespace ringpost::engine {
namespace {

void key(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":";
}

// Ids, addresses, host names and most reply texts are printable ASCII without '"' or '\\';
// copying those straight through is several times cheaper than the general escaper, which
// checks UTF-8 byte by byte (measured: most of a line's formatting time went there).
void json_string(std::string& out, std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return api::append_json_string(out, s);
  out += '"';
  out += s;
  out += '"';
}

void field(std::string& out, std::string_view name, std::string_view value) {
  key(out, name);
  json_string(out, value);
}

void field_if(std::string& out, std::string_view name, std::string_view value) {
  if (!value.empty()) field(out, name, value);
}

template <std::integral Int>
void number(std::string& out, std::string_view name, Int value) {
  key(out, name);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void number(std::string& out, std::string_view name, double value) {  // rates: "2.5", "300"
  key(out, name);
  fmt::format_to(std::back_inserter(out), "{}", value);
}

// RFC 3339 UTC with milliseconds, like rfc3339_ms() but without gmtime_r (which takes glibc's
// time zone lock) or a temporary string: this runs for every line on the front thread.
void append_time(std::string& out, int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(unix_ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{t - day};
  char buf[32];
  auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const int y = static_cast<int>(ymd.year());
  if (y < 0 || y > 9999) {
    out += '"' + rfc3339_ms(unix_ms) + '"';
    return;
  }
  buf[0] = '"';
  two(buf + 1, static_cast<unsigned>(y / 100));
  two(buf + 3, static_cast<unsigned>(y % 100));
  buf[5] = '-';
  two(buf + 6, static_cast<unsigned>(ymd.month()));
  buf[8] = '-';
  two(buf + 9, static_cast<unsigned>(ymd.day()));
  buf[11] = 'T';
  two(buf + 12, static_cast<unsigned>(hms.hours().count()));
  buf[14] = ':';
  two(buf + 15, static_cast<unsigned>(hms.minutes().count()));
  buf[17] = ':';
  two(buf + 18, static_cast<unsigned>(hms.seconds().count()));
  buf[20] = '.';
  const auto ms = static_cast<unsigned>(hms.subseconds().count());
  buf[21] = static_cast<char>('0' + ms / 100);
  two(buf + 22, ms % 100);
  buf[24] = 'Z';
  buf[25] = '"';
  out.append(buf, 26);
}

void time_field(std::string& out, std::string_view name, int64_t unix_ms) {
  key(out, name);
  append_time(out, unix_ms);
}

void begin(std::string& out, std::string_view type, int64_t at_ms) {
  out += "{\"type\":";
  json_string(out, type);
  time_field(out, "time", at_ms);
}

}  // namespace

void append_delivery_line(std::string& out, const DeliveryLogEntry& e) {
  begin(out, e.type, e.at_ms);
  field(out, "message_id", e.message_id);
  field(out, "sender", e.sender);
  field(out, "recipient", e.recipient);
  field_if(out, "key", e.key);
  field_if(out, "site", e.site);
  if (e.peer) {
    field_if(out, "mx_host", e.peer->mx_host);
    field_if(out, "mx_ip", e.peer->ip);
    if (e.peer->port) number(out, "mx_port", e.peer->port);
    field_if(out, "tls_version", e.peer->tls_version);
    field_if(out, "tls_cipher", e.peer->tls_cipher);
    if (e.peer->tls_fallback) out += ",\"tls_fallback\":true";
  }
  if (e.reply && e.reply->code != 0) {
    // The shape of append_reply_json (status_store.h), through the fast string path.
    out += ",\"reply\":{\"code\":";
    out += std::to_string(e.reply->code);
    out += ",\"enhanced\":";
    json_string(out, e.reply->enhanced);
    out += ",\"text\":";
    json_string(out, e.reply->text);
    out += '}';
  }
  if (e.attempt >= 0) number(out, "attempt", e.attempt);
  if (e.queued_ms >= 0) number(out, "queued_ms", e.queued_ms);
  if (e.attempt_ms >= 0) number(out, "attempt_ms", e.attempt_ms);
  if (!e.tags_json.empty()) {
    out += ",\"tags\":";
    out += e.tags_json;  // made by the front from validated strings (front_api.cc): one line of JSON
  }
  out += "}\n";
}

void append_admin_line(std::string& out, const AdminLogEntry& e) {
  begin(out, "admin", e.at_ms);
  field(out, "action", e.action);
  field(out, "domain", e.domain);
  field_if(out, "key", e.key);
  if (const DomainOverride* o = e.override_after) {
    if (o->suspended_until_ms && e.action == "suspend") time_field(out, "until", o->suspended_until_ms);
    if (e.action == "bounce-all") field(out, "reason", o->bounce_reason);
    if (e.action == "throttle") {
      if (o->msgs_per_second) number(out, "msgs_per_second", *o->msgs_per_second);
      if (o->connections_per_second) number(out, "connections_per_second", *o->connections_per_second);
      if (o->max_connections) number(out, "max_connections", *o->max_connections);
      if (o->max_msgs_per_connection) number(out, "max_msgs_per_connection", *o->max_msgs_per_connection);
      if (o->max_recipients_per_message) number(out, "max_recipients_per_message", *o->max_recipients_per_message);
      if (o->idle_timeout) number(out, "idle_timeout_ms", o->idle_timeout->count());
    }
  }
  out += "}\n";
}

}  // namespace ringpost::engine
