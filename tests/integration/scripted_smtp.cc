// scripted_smtp.py launcher and event-log parser (simdjson DOM, one document per line).
#include "tests/integration/scripted_smtp.h"

#include <fstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "tests/integration/paths.h"

namespace ringpost::it {

int ScriptedLog::rcpt_attempts(std::string_view address) const {
  int n = 0;
  for (const auto& r : rcpts)
    if (r.address == address) ++n;
  return n;
}

tl::expected<ScriptedSmtp, std::string> ScriptedSmtp::start(const std::filesystem::path& dir, uint16_t port,
                                                            std::vector<std::string> mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto log = dir / "scripted.jsonl";
  std::vector<std::string> argv = {kPython3, (source_dir() / "scripted_smtp.py").string(), "--port",
                                   std::to_string(port), "--log", log.string(), "--mode"};
  for (auto& m : mode) argv.push_back(m);
  auto proc = Process::spawn(std::move(argv), dir / "scripted.out");
  if (!proc) return tl::unexpected(proc.error());
  if (auto ready = proc->wait_for_line("ready", std::chrono::seconds(15)); !ready)
    return tl::unexpected(ready.error());
  return ScriptedSmtp(std::move(*proc), log, port);
}

tl::expected<ScriptedLog, std::string> ScriptedSmtp::log() const {
  ScriptedLog out;
  std::ifstream in(log_file_);
  std::string line;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    simdjson::dom::element ev;
    if (auto err = parser.parse(line).get(ev); err)
      return tl::unexpected(fmt::format("bad log line {:?}: {}", line, simdjson::error_message(err)));
    std::string_view kind;
    if (ev["event"].get(kind)) return tl::unexpected(fmt::format("log line without event: {}", line));
    int64_t session = 0;
    if (ev["session"].get(session)) session = 0;  // "disconnect" before a session id may be null
    if (kind == "connect") {
      ++out.connects;
    } else if (kind == "disconnect") {
      ++out.disconnects;
    } else if (kind == "rcpt") {
      ScriptedRcpt r;
      r.session = static_cast<int>(session);
      std::string_view s;
      int64_t attempt = 0;
      if (!ev["address"].get(s)) r.address = s;
      if (!ev["reply"].get(s)) r.reply = s;
      if (!ev["attempt"].get(attempt)) r.attempt = static_cast<int>(attempt);
      out.rcpts.push_back(std::move(r));
    } else if (kind == "message") {
      ScriptedMessage m;
      m.session = static_cast<int>(session);
      std::string_view s;
      if (!ev["mail_from"].get(s)) m.mail_from = s;
      if (!ev["subject"].get(s)) m.subject = s;
      if (ev["size"].get(m.size)) m.size = -1;
      simdjson::dom::array rcpts;
      if (!ev["rcpt_tos"].get(rcpts))
        for (auto r : rcpts)
          if (!r.get(s)) m.rcpt_tos.emplace_back(s);
      out.messages.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace ringpost::it
