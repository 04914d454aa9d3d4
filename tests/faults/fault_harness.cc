// fault_smtp.py launcher and log reader, ringpost launcher with per-domain policy lines, and
// bounded status polling.
#include "tests/faults/fault_harness.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "tests/integration/paths.h"

namespace ringpost::faults {
namespace {

std::filesystem::path faults_source_dir() { return RINGPOST_FAULTS_SOURCE_DIR; }

std::string str(simdjson::dom::element ev, const char* key) {
  std::string_view s;
  if (ev[key].get(s)) return {};
  return std::string(s);
}

int64_t num(simdjson::dom::element ev, const char* key) {
  int64_t v = 0;
  if (ev[key].get(v)) return 0;
  return v;
}

}  // namespace

std::string FaultEvent::verb() const {
  std::string v = line.substr(0, line.find(' '));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v;
}

int FaultLog::connects() const {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [](auto& e) { return e.ev == "connect"; }));
}

int FaultLog::max_session() const {
  int m = 0;
  for (auto& e : events) m = std::max(m, e.session);
  return m;
}

std::vector<FaultEvent> FaultLog::of(std::string_view ev, int session) const {
  std::vector<FaultEvent> out;
  for (auto& e : events)
    if (e.ev == ev && (session == 0 || e.session == session)) out.push_back(e);
  return out;
}

std::vector<FaultEvent> FaultLog::commands(std::string_view verb, int session) const {
  std::vector<FaultEvent> out;
  for (auto& e : of("cmd", session))
    if (verb.empty() || e.verb() == verb) out.push_back(e);
  return out;
}

std::vector<FaultEvent> FaultLog::messages(int session) const { return of("message", session); }

std::optional<FaultEvent> FaultLog::disconnect(int session) const {
  auto d = of("disconnect", session);
  if (d.empty()) return std::nullopt;
  return d.front();
}

std::string FaultLog::session_text(int session) const {
  std::string out;
  std::istringstream in(raw);
  std::string line;
  const std::string tag = fmt::format("\"session\": {},", session);
  for (int n = 0; n < 100000 && std::getline(in, line); ++n)
    if (session == 0 || line.find(tag) != std::string::npos) out += "\n    " + line;
  return out;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string angle_addr(std::string_view arg) {
  auto a = arg.find('<');
  auto b = arg.find('>', a == std::string_view::npos ? 0 : a);
  if (a == std::string_view::npos || b == std::string_view::npos) return std::string(arg);
  return std::string(arg.substr(a + 1, b - a - 1));
}

tl::expected<FaultSmtp, std::string> FaultSmtp::start(const std::filesystem::path& dir, uint16_t port,
                                                      std::vector<std::string> args) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto log = dir / "fault.jsonl";
  // --lifetime bounds the script even if this test binary is SIGKILLed between PDEATHSIG
  // set-up and exec; --idle closes a session nobody talks to.
  std::vector<std::string> argv = {it::kPython3, (faults_source_dir() / "fault_smtp.py").string(), "--port",
                                   std::to_string(port), "--log", log.string(), "--msgdir", (dir / "msgs").string(),
                                   "--lifetime", "600", "--idle", "60"};
  for (auto& a : args) argv.push_back(std::move(a));
  auto proc = Process::spawn(std::move(argv), dir / "fault.out");
  if (!proc) return tl::unexpected(proc.error());
  if (auto ready = proc->wait_for_line("ready", std::chrono::seconds(15)); !ready) return tl::unexpected(ready.error());
  return FaultSmtp(std::move(*proc), log, port);
}

std::string FaultSmtp::log_text() const { return read_file(log_file_); }

tl::expected<FaultLog, std::string> FaultSmtp::log() const {
  FaultLog out;
  out.raw = log_text();
  std::istringstream in(out.raw);
  std::string line;
  simdjson::dom::parser parser;
  for (int n = 0; n < 1000000 && std::getline(in, line); ++n) {
    if (line.empty()) continue;
    simdjson::dom::element ev;
    if (auto err = parser.parse(line).get(ev); err)
      return tl::unexpected(fmt::format("bad log line {:?}: {}", line, simdjson::error_message(err)));
    FaultEvent e;
    e.session = static_cast<int>(num(ev, "session"));
    e.ev = str(ev, "ev");
    if (ev["t"].get(e.t)) e.t = 0;
    if (ev["arrived"].get(e.arrived)) e.arrived = 0;
    e.line = str(ev, "line");
    e.read = static_cast<int>(num(ev, "read"));
    e.kind = str(ev, "kind");
    e.cmd = str(ev, "cmd");
    e.by = str(ev, "by");
    e.during = str(ev, "during");
    e.mode = str(ev, "mode");
    e.file = str(ev, "file");
    e.mail = str(ev, "mail");
    bool b = false;
    if (!ev["complete"].get(b)) e.complete = b;
    if (!ev["last"].get(b)) e.last = b;
    e.bytes = num(ev, "bytes");
    e.size = num(ev, "size");
    simdjson::dom::array arr;
    if (!ev["rcpts"].get(arr))
      for (auto x : arr) {
        std::string_view s;
        if (!x.get(s)) e.rcpts.emplace_back(s);
      }
    if (!ev["chunks"].get(arr))
      for (auto x : arr) {
        int64_t v = 0;
        if (!x.get(v)) e.chunks.push_back(v);
      }
    out.events.push_back(std::move(e));
  }
  // A message's reply is its session's next reply event, unless a command or the disconnect
  // comes first (the script logs the message before any DATA-END fault or reply).
  for (std::size_t i = 0; i < out.events.size(); ++i) {
    auto& m = out.events[i];
    if (m.ev != "message" || !m.complete) continue;
    for (std::size_t j = i + 1; j < out.events.size(); ++j) {
      const auto& e = out.events[j];
      if (e.session != m.session) continue;
      if (e.ev == "reply") m.reply = e.line;
      if (e.ev == "reply" || e.ev == "cmd" || e.ev == "disconnect") break;
    }
  }
  return out;
}

tl::expected<FaultRingpost, std::string> FaultRingpost::start(const std::filesystem::path& dir, FaultServerConfig cfg) {
  if (it::ringpost_binary().empty()) return tl::unexpected(std::string("ringpost binary not configured"));
  if (cfg.base.spool_dir.empty()) cfg.base.spool_dir = dir / "spool";
  std::error_code ec;
  std::filesystem::create_directories(cfg.base.spool_dir, ec);
  cfg.base.domains.clear();
  std::string toml = it::render_toml(cfg.base);
  toml += fmt::format("\n[domains.\"{}\"]\nroute = \"127.0.0.1:{}\"\n", cfg.domain, cfg.smtp_port);
  for (auto& l : cfg.policy) toml += l + "\n";
  {
    std::ofstream out(dir / "ringpost.toml");
    out << toml;
    if (!out) return tl::unexpected(fmt::format("cannot write {}", (dir / "ringpost.toml").string()));
  }
  auto proc = Process::spawn({it::ringpost_binary().string(), "serve", "--config", (dir / "ringpost.toml").string()},
                             dir / "ringpost.log");
  if (!proc) return tl::unexpected(proc.error());
  auto want = fmt::format("listening on 127.0.0.1:{}", cfg.base.http_port);
  auto line = proc->wait_for_line(want, std::chrono::seconds(30));
  if (!line) return tl::unexpected(fmt::format("{}\nconfig:\n{}", line.error(), toml));
  return FaultRingpost(std::move(*proc), cfg.base.http_port, std::move(toml));
}

tl::expected<std::string, std::string> submit_raw(RingpostApi& api, std::string_view from,
                                                  const std::vector<std::string>& to, std::string_view raw) {
  std::string rcpts;
  for (auto& r : to) rcpts += (rcpts.empty() ? "" : ",") + it::json_quote(r);
  auto body = fmt::format(R"({{"from":{},"to":[{}],"raw":{}}})", it::json_quote(from), rcpts, it::json_quote(raw));
  auto r = api.http().post_json("/v1/messages", body);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 202) return tl::unexpected(fmt::format("HTTP {}: {}", r->status, r->body));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view id;
  if (p.parse(r->body).get(doc) || doc["id"].get(id)) return tl::unexpected("202 without id: " + r->body);
  return std::string(id);
}

Polled poll_status(RingpostApi& api, const std::string& id, std::chrono::milliseconds timeout,
                   const std::function<bool(const MessageStatus&)>& pred, std::chrono::milliseconds every) {
  Polled out;
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    auto st = api.status(id);
    if (st) {
      out.last = *st;
      if (auto s = it::summarize(*st); s != last) out.history += "\n    " + (last = s);
      if (pred(*st)) {
        out.ok = true;
        return out;
      }
    } else if (st.error() != last) {
      out.history += "\n    error: " + (last = st.error());
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(every);
  }
  return out;
}

bool is_final(const RecipientStatus& r) { return r.state != "queued" && r.state != "deferred"; }

bool all_final(const MessageStatus& m) {
  return !m.recipients.empty() && std::all_of(m.recipients.begin(), m.recipients.end(), is_final);
}

const RecipientStatus* find_rcpt(const MessageStatus& m, std::string_view address) {
  for (auto& r : m.recipients)
    if (r.address == address) return &r;
  return nullptr;
}

bool contains_icase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

}  // namespace ringpost::faults
