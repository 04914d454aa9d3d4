// shaping_smtp.py launcher and log reader, ringpost launcher with [server] lines, SIGHUP and
// restart, and the admin API client and domain-object parser.
#include "tests/shaping/shaping_harness.h"

#include "tests/integration/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/paths.h"
#include "tests/integration/wait.h"

namespace ringpost::shaping {
namespace {

using simdjson::dom::element;

std::filesystem::path shaping_source_dir() { return RINGPOST_SHAPING_SOURCE_DIR; }

std::string clip(std::string_view s, std::size_t n = 800) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string str(element ev, const char* key) {
  std::string_view s;
  if (ev[key].get(s)) return {};
  return std::string(s);
}

int64_t num(element ev, const char* key) {
  int64_t v = 0;
  if (ev[key].get(v)) return 0;
  return v;
}

}  // namespace

double mono_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// ---- SmtpLog --------------------------------------------------------------------------------

std::vector<SmtpEvent> SmtpLog::of(std::string_view ev) const {
  std::vector<SmtpEvent> out;
  for (const auto& e : events)
    if (e.ev == ev) out.push_back(e);
  return out;
}

int SmtpLog::messages_between(double t0, double t1) const {
  int n = 0;
  for (const auto& e : events)
    if (e.ev == "message" && e.t >= t0 && e.t < t1) ++n;
  return n;
}

int SmtpLog::connects_between(double t0, double t1) const {
  int n = 0;
  for (const auto& e : events)
    if (e.ev == "connect" && e.t >= t0 && e.t < t1) ++n;
  return n;
}

int SmtpLog::max_concurrent() const {
  int m = 0;
  for (const auto& e : events)
    if (e.ev == "connect") m = std::max({m, e.concurrent, e.max_concurrent});
  return m;
}

std::optional<double> SmtpLog::first_message_time() const {
  std::optional<double> t;
  for (const auto& e : events)
    if (e.ev == "message" && (!t || e.t < *t)) t = e.t;
  return t;
}

int SmtpLog::copies_of(std::string_view address) const {
  int n = 0;
  for (const auto& e : events)
    if (e.ev == "message") n += static_cast<int>(std::count(e.rcpts.begin(), e.rcpts.end(), address));
  return n;
}

int SmtpLog::rcpt_commands_for(std::string_view address) const {
  int n = 0;
  for (const auto& e : events)
    if (e.ev == "rcpt" && e.address == address) ++n;
  return n;
}

std::string SmtpLog::tail(std::size_t n) const {
  std::vector<std::string_view> lines;
  std::string_view rest = raw;
  for (int i = 0; i < 10000000 && !rest.empty(); ++i) {
    auto eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += "\n    " + std::string(lines[i]);
  return out;
}

std::string SmtpLog::per_second(double t0, int seconds) const {
  std::string out = "[";
  for (int k = 0; k < seconds; ++k) out += fmt::format("{}{}", k ? " " : "", messages_between(t0 + k, t0 + k + 1));
  return out + "]";
}

// ---- ShapingSmtp ----------------------------------------------------------------------------

tl::expected<ShapingSmtp, std::string> ShapingSmtp::start(const std::filesystem::path& dir, std::string host,
                                                          uint16_t port, std::vector<std::string> args) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // --lifetime bounds the script even if this test binary is SIGKILLed between PDEATHSIG set-up
  // and exec; --idle closes a session nobody talks to.
  std::vector<std::string> argv = {it::kPython3,
                                   (shaping_source_dir() / "shaping_smtp.py").string(),
                                   "--host", host,
                                   "--port", std::to_string(port),
                                   "--log", (dir / "log.jsonl").string(),
                                   "--control", (dir / "control").string(),
                                   "--lifetime", "600",
                                   "--idle", "90"};
  for (auto& a : args) argv.push_back(std::move(a));
  auto proc = it::Process::spawn(std::move(argv), dir / "out.txt");
  if (!proc) return tl::unexpected(proc.error());
  if (auto ready = proc->wait_for_line("ready", std::chrono::seconds(15)); !ready) return tl::unexpected(ready.error());
  return ShapingSmtp(std::move(*proc), dir, std::move(host), port);
}

std::string ShapingSmtp::route() const { return fmt::format("{}:{}", host_, port_); }

tl::expected<void, std::string> ShapingSmtp::set_control(const std::vector<std::string>& specs) const {
  std::string text;
  for (const auto& s : specs) text += s + "\n";
  auto tmp = dir_ / "control.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return tl::unexpected(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, dir_ / "control", ec);
  if (ec) return tl::unexpected(fmt::format("rename {}: {}", tmp.string(), ec.message()));
  return {};
}

tl::expected<SmtpLog, std::string> ShapingSmtp::log() const {
  SmtpLog out;
  out.raw = read_text(dir_ / "log.jsonl");
  // A line still being written has no newline yet: leave it for the next read.
  if (auto last_nl = out.raw.rfind('\n'); last_nl == std::string::npos) out.raw.clear();
  else out.raw.resize(last_nl + 1);
  std::istringstream in(out.raw);
  std::string line;
  simdjson::dom::parser parser;
  for (int n = 0; n < 2000000 && std::getline(in, line); ++n) {
    if (line.empty()) continue;
    element ev;
    if (auto err = parser.parse(line).get(ev); err)
      return tl::unexpected(fmt::format("bad log line {:?}: {}", line, simdjson::error_message(err)));
    SmtpEvent e;
    e.ev = str(ev, "ev");
    e.session = static_cast<int>(num(ev, "session"));
    if (ev["t"].get(e.t)) e.t = 0;
    e.concurrent = static_cast<int>(num(ev, "concurrent"));
    e.max_concurrent = static_cast<int>(num(ev, "max_concurrent"));
    e.by = str(ev, "by");
    e.address = str(ev, "address");
    e.reply = str(ev, "reply");
    e.phase = str(ev, "phase");
    e.arg = str(ev, "arg");
    e.mail_from = str(ev, "mail_from");
    e.subject = str(ev, "subject");
    e.bytes = num(ev, "bytes");
    simdjson::dom::array arr;
    if (!ev["rcpts"].get(arr))
      for (auto x : arr) {
        std::string_view s;
        if (!x.get(s)) e.rcpts.emplace_back(s);
      }
    out.events.push_back(std::move(e));
  }
  return out;
}

// ---- ShapingServer --------------------------------------------------------------------------

std::string render_config(const it::ServerConfig& cfg, std::string_view server_toml) {
  std::string toml = it::render_toml(cfg);
  if (server_toml.empty()) return toml;
  std::string lines(server_toml);
  if (lines.back() != '\n') lines += '\n';
  const std::string head = "[server]\n";
  auto at = toml.find(head);
  if (at == std::string::npos) return head + lines + toml;  // cannot happen with render_toml
  toml.insert(at + head.size(), lines);
  return toml;
}

tl::expected<ShapingServer, std::string> ShapingServer::start(const std::filesystem::path& dir, it::ServerConfig cfg,
                                                              std::string server_toml) {
  if (it::ringpost_binary().empty()) return tl::unexpected(std::string("ringpost binary not configured"));
  if (cfg.spool_dir.empty()) cfg.spool_dir = dir / "spool";
  std::error_code ec;
  std::filesystem::create_directories(cfg.spool_dir, ec);
  ShapingServer server(dir, cfg);
  if (auto w = server.write_config(cfg, server_toml); !w) return tl::unexpected(w.error());
  if (auto ok = server.launch(); !ok) return tl::unexpected(ok.error());
  return server;
}

tl::expected<void, std::string> ShapingServer::write_config_text(const std::string& text) {
  auto tmp = dir_ / "ringpost.toml.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return tl::unexpected(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, config_path(), ec);
  if (ec) return tl::unexpected(fmt::format("rename {}: {}", tmp.string(), ec.message()));
  toml_ = text;
  return {};
}

tl::expected<void, std::string> ShapingServer::write_config(const it::ServerConfig& cfg, std::string_view server_toml) {
  it::ServerConfig c = cfg;
  if (c.spool_dir.empty()) c.spool_dir = cfg_.spool_dir;
  return write_config_text(render_config(c, server_toml));
}

tl::expected<void, std::string> ShapingServer::sighup() {
  if (!process_ || !process_->running()) return tl::unexpected(std::string("ringpost is not running"));
  if (::kill(process_->pid(), SIGHUP) != 0) return tl::unexpected(fmt::format("kill(SIGHUP): {}", std::strerror(errno)));
  return {};
}

tl::expected<void, std::string> ShapingServer::restart() {
  if (process_ && process_->running()) process_->terminate();
  // The listener can outlive the process by a little (io_uring teardown is asynchronous); see
  // it::RingpostServer::restart.
  it::wait_until(std::chrono::seconds(10), std::chrono::milliseconds(5),
                 [&] { return !it::port_is_listening(cfg_.http_port); });
  return launch();
}

tl::expected<void, std::string> ShapingServer::launch() {
  ++launches_;
  auto log = dir_ / fmt::format("ringpost-{}.log", launches_);
  auto proc = it::Process::spawn({it::ringpost_binary().string(), "serve", "--config", config_path().string()}, log);
  if (!proc) return tl::unexpected(proc.error());
  process_.emplace(std::move(*proc));
  auto want = fmt::format("listening on 127.0.0.1:{}", cfg_.http_port);
  auto line = process_->wait_for_line(want, std::chrono::seconds(30));
  if (!line) return tl::unexpected(fmt::format("{}\nconfig:\n{}", line.error(), toml_));
  auto at = line->find(want);
  auto after = at + want.size();
  if (after < line->size() && std::isdigit(static_cast<unsigned char>((*line)[after])))
    return tl::unexpected(fmt::format("server says {:?}, expected port {}", *line, cfg_.http_port));
  return {};
}

// ---- admin API ------------------------------------------------------------------------------

tl::expected<it::HttpResponse, std::string> admin_request(uint16_t port, std::string_view method,
                                                          std::string_view target, std::string_view body,
                                                          std::string_view authorization) {
  // One connection per call: a refused request must not leave state behind for the next one.
  it::HttpClient http(port);
  if (!authorization.empty()) http.set_header("Authorization", std::string(authorization));
  return http.request(method, target, body, body.empty() ? "" : "application/json");
}

std::optional<int64_t> duration_ms(std::string_view text) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  if (unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m" || unit == "min") return n * 60000;
  if (unit == "h") return n * 3600000;
  if (unit == "d") return n * 86400000;
  return std::nullopt;
}

namespace {

tl::expected<DomainInfo, std::string> domain_from(element o, std::string_view body) {
  DomainInfo d;
  d.raw = simdjson::to_string(o);
  auto missing = [&](std::string_view key, std::string_view want) {
    return tl::unexpected(fmt::format("domain object: key {:?} missing or not {}: {}", std::string(key),
                                      std::string(want), clip(d.raw.empty() ? body : d.raw)));
  };
  std::string_view s;
  if (o["domain"].get(s)) return missing("domain", "a string");
  d.domain = s;
  {
    element v;
    if (o["site"].get(v)) return missing("site", "present");
    if (!v.is_null()) {
      if (v.get(s)) return missing("site", "a string or null");
      d.site = std::string(s);
    }
  }
  if (o["queued"].get(d.queued)) return missing("queued", "an integer");
  if (o["in_flight"].get(d.in_flight)) return missing("in_flight", "an integer");
  if (o["connections"].get(d.connections)) return missing("connections", "an integer");
  if (o["msgs_per_second_measured"].get(d.msgs_per_second_measured)) return missing("msgs_per_second_measured", "a number");
  element lim;
  if (o["limits"].get(lim) || !lim.is_object()) return missing("limits", "an object");
  if (lim["max_connections"].get(d.limits.max_connections)) return missing("limits.max_connections", "an integer");
  if (lim["max_msgs_per_connection"].get(d.limits.max_msgs_per_connection))
    return missing("limits.max_msgs_per_connection", "an integer");
  for (auto [key, dst] : {std::pair{"msgs_per_second", &d.limits.msgs_per_second},
                          std::pair{"connections_per_second", &d.limits.connections_per_second}}) {
    element v;
    if (lim[key].get(v)) return missing(fmt::format("limits.{}", key), "present");
    if (v.is_null()) continue;
    double x = 0;
    if (v.get(x)) return missing(fmt::format("limits.{}", key), "a number or null");
    *dst = x;
  }
  {
    element v;
    if (lim["max_recipients_per_message"].get(v)) return missing("limits.max_recipients_per_message", "present");
    if (!v.is_null()) {
      int64_t x = 0;
      if (v.get(x)) return missing("limits.max_recipients_per_message", "an integer or null");
      d.limits.max_recipients_per_message = x;
    }
  }
  if (lim["idle_timeout"].get(s)) return missing("limits.idle_timeout", "a string");
  d.limits.idle_timeout = s;
  for (auto [key, dst] : {std::pair{"suspended_until", &d.suspended_until}, std::pair{"throttled_until", &d.throttled_until}}) {
    element v;
    if (o[key].get(v)) return missing(key, "present");
    if (v.is_null()) continue;
    if (v.get(s)) return missing(key, "an RFC 3339 string or null");
    *dst = std::string(s);
  }
  element le;
  if (o["last_error"].get(le)) return missing("last_error", "present");
  if (!le.is_null()) {
    if (!le.is_object()) return missing("last_error", "an object or null");
    it::ReplyInfo r;
    int64_t code = 0;
    if (le["code"].get(code)) return missing("last_error.code", "an integer");
    r.code = static_cast<int>(code);
    if (!le["enhanced"].get(s)) r.enhanced = s;
    if (le["text"].get(s)) return missing("last_error.text", "a string");
    r.text = s;
    d.last_error = std::move(r);
  }
  return d;
}

}  // namespace

tl::expected<DomainInfo, std::string> parse_domain(std::string_view body) {
  simdjson::dom::parser p;
  element doc;
  if (auto err = p.parse(body.data(), body.size()).get(doc); err)
    return tl::unexpected(fmt::format("invalid JSON ({}): {:?}", simdjson::error_message(err), clip(body)));
  if (!doc.is_object()) return tl::unexpected(fmt::format("not an object: {:?}", clip(body)));
  return domain_from(doc, body);
}

tl::expected<std::vector<DomainInfo>, std::string> parse_domains(std::string_view body) {
  simdjson::dom::parser p;
  element doc;
  if (auto err = p.parse(body.data(), body.size()).get(doc); err)
    return tl::unexpected(fmt::format("invalid JSON ({}): {:?}", simdjson::error_message(err), clip(body)));
  simdjson::dom::array arr;
  if (doc["domains"].get(arr)) return tl::unexpected(fmt::format("no \"domains\" array: {:?}", clip(body)));
  std::vector<DomainInfo> out;
  for (element e : arr) {
    auto d = domain_from(e, body);
    if (!d) return tl::unexpected(d.error());
    out.push_back(std::move(*d));
  }
  return out;
}

std::string error_field_of(std::string_view body) {
  simdjson::dom::parser p;
  element doc;
  std::string_view s;
  if (p.parse(body.data(), body.size()).get(doc) || doc["error"]["field"].get(s)) return {};
  return std::string(s);
}

std::string error_message_of(std::string_view body) {
  simdjson::dom::parser p;
  element doc;
  std::string_view s;
  if (p.parse(body.data(), body.size()).get(doc) || doc["error"]["message"].get(s)) return {};
  return std::string(s);
}

tl::expected<DomainInfo, std::string> AdminClient::domain(std::string_view d) const {
  auto target = fmt::format("/v1/domains/{}", d);
  auto r = call("GET", target);
  if (!r) return tl::unexpected(fmt::format("GET {}: {}", target, r.error()));
  if (r->status != 200) return tl::unexpected(fmt::format("GET {}: HTTP {}: {}", target, r->status, clip(r->body)));
  return parse_domain(r->body);
}

tl::expected<std::vector<DomainInfo>, std::string> AdminClient::domains() const {
  auto r = call("GET", "/v1/domains");
  if (!r) return tl::unexpected(fmt::format("GET /v1/domains: {}", r.error()));
  if (r->status != 200) return tl::unexpected(fmt::format("GET /v1/domains: HTTP {}: {}", r->status, clip(r->body)));
  return parse_domains(r->body);
}

tl::expected<DomainInfo, std::string> AdminClient::throttle(std::string_view d, std::string_view json) const {
  auto target = fmt::format("/v1/domains/{}/throttle", d);
  auto r = call("PUT", target, json);
  if (!r) return tl::unexpected(fmt::format("PUT {}: {}", target, r.error()));
  if (r->status != 200)
    return tl::unexpected(fmt::format("PUT {} {}: HTTP {}: {}", target, std::string(json), r->status, clip(r->body)));
  return parse_domain(r->body);
}

tl::expected<std::string, std::string> AdminClient::post(std::string_view d, std::string_view action,
                                                   std::string_view json) const {
  auto target = fmt::format("/v1/domains/{}/{}", d, action);
  auto r = call("POST", target, json);
  if (!r) return tl::unexpected(fmt::format("POST {}: {}", target, r.error()));
  if (r->status != 200)
    return tl::unexpected(fmt::format("POST {} {}: HTTP {}: {}", target, std::string(json), r->status, clip(r->body)));
  return r->body;
}

// ---- helpers --------------------------------------------------------------------------------

std::vector<it::OutgoingMessage> make_messages(std::string_view domain, int n, std::string_view tag,
                                               std::string_view local_prefix) {
  std::vector<it::OutgoingMessage> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    out.push_back({"sender@example.test", {fmt::format("{}{}@{}", local_prefix, i, domain)}, fmt::format("{} {}", tag, i),
                   "shaping test body"});
  return out;
}

tl::expected<std::vector<std::string>, std::string> submit_all(it::RingpostApi& api,
                                                               const std::vector<it::OutgoingMessage>& msgs) {
  std::vector<std::string> ids;
  for (std::size_t at = 0; at < msgs.size(); at += 1000) {
    auto n = std::min<std::size_t>(1000, msgs.size() - at);
    auto r = n == 1 ? api.submit(msgs[at]).map([](std::string id) { return std::vector<std::string>{std::move(id)}; })
                    : api.submit_batch(std::span(msgs).subspan(at, n));
    if (!r) return tl::unexpected(r.error());
    ids.insert(ids.end(), r->begin(), r->end());
  }
  return ids;
}

}  // namespace ringpost::shaping
