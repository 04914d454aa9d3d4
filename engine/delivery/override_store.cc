// See override_store.h.
#include "engine/delivery/override_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/api/json_escape.h"
#include "queue/duration.h"
#include "queue/token_bucket.h"

namespace ringpost::engine {
namespace {

namespace dom = simdjson::dom;

api::ApiError bad(std::string field, std::string message) {
  return api::ApiError{400, "invalid_field", std::move(message), std::move(field)};
}

tl::expected<double, api::ApiError> read_rate(dom::element v, const std::string& field) {
  double d = 0;
  if (v.get(d) == simdjson::SUCCESS) {
    if (d > 0) return d;
    return tl::make_unexpected(bad(field, fmt::format("{} must be a positive rate", field)));
  }
  std::string_view s;
  if (v.get(s) != simdjson::SUCCESS)
    return tl::make_unexpected(bad(field, fmt::format("{} must be a number or a rate like \"300/min\"", field)));
  auto r = queue::parse_rate(s);
  if (!r) return tl::make_unexpected(bad(field, fmt::format("{}: {}", field, r.error())));
  return *r;
}

tl::expected<uint32_t, api::ApiError> read_count(dom::element v, const std::string& field, uint64_t max) {
  uint64_t n = 0;
  if (v.get(n) != simdjson::SUCCESS || n < 1 || n > max)
    return tl::make_unexpected(bad(field, fmt::format("{} must be an integer from 1 to {}", field, max)));
  return static_cast<uint32_t>(n);
}

// Applies the fields of `obj` to `o`; `null` clears a field back to the config's value.
tl::expected<void, api::ApiError> apply_fields(dom::object obj, DomainOverride& o, bool allow_suspension) {
  for (auto [key, value] : obj) {
    const std::string field(key);
    const bool clear = value.is_null();
    if (field == "msgs_per_second" || field == "connections_per_second") {
      auto& slot = field == "msgs_per_second" ? o.msgs_per_second : o.connections_per_second;
      if (clear) {
        slot.reset();
        continue;
      }
      auto r = read_rate(value, field);
      if (!r) return tl::make_unexpected(r.error());
      slot = *r;
    } else if (field == "max_connections" || field == "max_msgs_per_connection" ||
               field == "max_recipients_per_message") {
      auto& slot = field == "max_connections"           ? o.max_connections
                   : field == "max_msgs_per_connection" ? o.max_msgs_per_connection
                                                        : o.max_recipients_per_message;
      if (clear) {
        slot.reset();
        continue;
      }
      auto r = read_count(value, field, field == "max_connections" ? 10000 : 1000000);
      if (!r) return tl::make_unexpected(r.error());
      slot = *r;
    } else if (field == "idle_timeout") {
      if (clear) {
        o.idle_timeout.reset();
        continue;
      }
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS)
        return tl::make_unexpected(bad(field, "idle_timeout must be a duration like \"30s\""));
      auto d = queue::parse_duration(s);
      if (!d) return tl::make_unexpected(bad(field, fmt::format("idle_timeout: {}", d.error())));
      o.idle_timeout = *d;
    } else if (allow_suspension && (field == "suspended_until_ms" || field == "bounce_created_before_ms")) {
      int64_t ms = 0;
      if (value.get(ms) != simdjson::SUCCESS) return tl::make_unexpected(bad(field, "expected an integer"));
      (field == "suspended_until_ms" ? o.suspended_until_ms : o.bounce_created_before_ms) = ms;
    } else if (allow_suspension && field == "bounce_reason") {
      std::string_view r;
      if (value.get(r) != simdjson::SUCCESS) return tl::make_unexpected(bad(field, "expected a string"));
      o.bounce_reason = std::string(r);
    } else {
      return tl::make_unexpected(api::ApiError{
          400, "unknown_field",
          fmt::format("'{}' is not a throttle setting; use msgs_per_second, connections_per_second, max_connections, "
                      "max_msgs_per_connection, max_recipients_per_message or idle_timeout",
                      field),
          field});
    }
  }
  return {};
}

}  // namespace

tl::expected<DomainOverride, api::ApiError> parse_throttle(std::string_view json, DomainOverride base) {
  dom::parser parser;
  const simdjson::padded_string padded(json);
  dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS)
    return tl::make_unexpected(api::ApiError{400, "invalid_json", "the request body is not valid JSON", {}});
  dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS)
    return tl::make_unexpected(api::ApiError{400, "invalid_json", "the request body must be a JSON object", {}});
  if (auto r = apply_fields(obj, base, false); !r) return tl::make_unexpected(r.error());
  return base;
}

std::string to_json(const std::map<std::string, DomainOverride>& overrides) {
  std::string out = "{\"version\":1,\"domains\":{";
  bool first = true;
  for (const auto& [domain, o] : overrides) {
    if (o.empty()) continue;
    if (!first) out += ',';
    first = false;
    api::append_json_string(out, domain);
    out += ":{";
    std::vector<std::string> f;
    if (o.msgs_per_second) f.push_back(fmt::format("\"msgs_per_second\":{}", *o.msgs_per_second));
    if (o.connections_per_second) f.push_back(fmt::format("\"connections_per_second\":{}", *o.connections_per_second));
    if (o.max_connections) f.push_back(fmt::format("\"max_connections\":{}", *o.max_connections));
    if (o.max_msgs_per_connection) f.push_back(fmt::format("\"max_msgs_per_connection\":{}", *o.max_msgs_per_connection));
    if (o.max_recipients_per_message)
      f.push_back(fmt::format("\"max_recipients_per_message\":{}", *o.max_recipients_per_message));
    if (o.idle_timeout) f.push_back(fmt::format("\"idle_timeout\":\"{}ms\"", o.idle_timeout->count()));
    if (o.suspended_until_ms) f.push_back(fmt::format("\"suspended_until_ms\":{}", o.suspended_until_ms));
    if (o.bounce_created_before_ms) {
      std::string reason;
      api::append_json_string(reason, o.bounce_reason);
      f.push_back(fmt::format("\"bounce_created_before_ms\":{},\"bounce_reason\":{}", o.bounce_created_before_ms, reason));
    }
    out += fmt::format("{}", fmt::join(f, ","));
    out += '}';
  }
  out += "}}\n";
  return out;
}

tl::expected<std::map<std::string, DomainOverride>, std::string> parse_overrides(std::string_view json,
                                                                                 const std::string& source) {
  dom::parser parser;
  const simdjson::padded_string padded(json);
  dom::element root;
  dom::object domains;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS || root["domains"].get(domains) != simdjson::SUCCESS)
    return tl::make_unexpected(fmt::format("{}: not a ringpost overrides file (expected {{\"domains\":{{...}}}})", source));
  std::map<std::string, DomainOverride> out;
  for (auto [domain, value] : domains) {
    dom::object obj;
    if (value.get(obj) != simdjson::SUCCESS)
      return tl::make_unexpected(fmt::format("{}: domains.\"{}\": expected an object", source, std::string(domain)));
    DomainOverride o;
    if (auto r = apply_fields(obj, o, true); !r)
      return tl::make_unexpected(fmt::format("{}: domains.\"{}\": {}", source, std::string(domain), r.error().message));
    out.emplace(std::string(domain), o);
  }
  return out;
}

tl::expected<std::map<std::string, DomainOverride>, std::string> load_overrides(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::map<std::string, DomainOverride>{};
    return tl::make_unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_overrides(ss.str(), path);
}

tl::expected<void, std::string> save_overrides(const std::string& path,
                                               const std::map<std::string, DomainOverride>& overrides) {
  const std::string tmp = path + ".tmp";
  const std::string text = to_json(overrides);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return tl::make_unexpected(fmt::format("{}: {}", tmp, std::strerror(errno)));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return tl::make_unexpected(fmt::format("{}: {}", tmp, std::strerror(err)));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return tl::make_unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace ringpost::engine
