// Config rendering and process lifecycle for the server under test.
#include "tests/integration/ringpost_server.h"

#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "tests/integration/free_port.h"
#include "tests/integration/paths.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

// TOML basic strings: our values are paths, hosts and durations; escape the two that matter.
std::string q(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string render_toml(const ServerConfig& cfg) {
  std::string retry;
  for (const auto& r : cfg.retry) retry += (retry.empty() ? "" : ", ") + q(r);
  std::string out = fmt::format(
      "[server]\n"
      "http_listen = {}\n"
      "threads = {}\n"
      "spool_dir = {}\n"
      "hostname = {}\n"
      "{}"
      "\n"
      "[defaults]\n"
      "max_connections = {}\n"
      "max_msgs_per_connection = {}\n"
      "retry = [{}]\n"
      "max_age = {}\n"
      "connect_timeout = {}\n",
      q(fmt::format("127.0.0.1:{}", cfg.http_port)), cfg.threads, q(cfg.spool_dir.string()), q(cfg.hostname),
      cfg.server_toml.empty() || cfg.server_toml.back() == '\n' ? cfg.server_toml : cfg.server_toml + '\n',
      cfg.max_connections, cfg.max_msgs_per_connection, retry, q(cfg.max_age), q(cfg.connect_timeout));
  out += cfg.defaults_toml;
  if (!cfg.defaults_toml.empty() && cfg.defaults_toml.back() != '\n') out += '\n';
  for (const auto& d : cfg.domains) {
    out += fmt::format("\n[domains.{}]\nroute = {}\n", q(d.domain), q(d.route));
    out += d.extra_toml;
    if (!d.extra_toml.empty() && d.extra_toml.back() != '\n') out += '\n';
  }
  if (!cfg.extra_toml.empty()) out += "\n" + cfg.extra_toml;
  return out;
}

tl::expected<RingpostServer, std::string> RingpostServer::start(const std::filesystem::path& dir, ServerConfig cfg) {
  if (ringpost_binary().empty()) return tl::unexpected(std::string("ringpost binary not configured"));
  if (cfg.spool_dir.empty()) cfg.spool_dir = dir / "spool";
  std::error_code ec;
  std::filesystem::create_directories(cfg.spool_dir, ec);
  {
    std::ofstream out(dir / "ringpost.toml");
    out << render_toml(cfg);
    if (!out) return tl::unexpected(fmt::format("cannot write {}", (dir / "ringpost.toml").string()));
  }
  RingpostServer server(dir, std::move(cfg));
  if (auto ok = server.launch(); !ok) return tl::unexpected(ok.error());
  return server;
}

tl::expected<void, std::string> RingpostServer::restart() {
  if (process_ && process_->running()) process_->terminate();
  // The old listening socket can outlive the reaped process: ringpost accepts through an
  // io_uring multishot accept, and the kernel tears a ring down asynchronously after exit,
  // dropping the socket ~30 ms later on an idle box (longer under load). A supervisor
  // restarting at once would see EADDRINUSE; here we wait (bounded) for the kernel to let go,
  // because these tests are about what the spool kept, not about how fast a port frees up.
  const auto t0 = std::chrono::steady_clock::now();
  wait_until(std::chrono::seconds(10), std::chrono::milliseconds(5), [&] { return !port_is_listening(cfg_.http_port); });
  last_port_release_wait_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return launch();
}

tl::expected<void, std::string> RingpostServer::launch() {
  ++launches_;
  auto log = dir_ / fmt::format("ringpost-{}.log", launches_);
  auto proc = Process::spawn({ringpost_binary().string(), "serve", "--config", (dir_ / "ringpost.toml").string()}, log);
  if (!proc) return tl::unexpected(proc.error());
  process_.emplace(std::move(*proc));
  // Generous: recovery replays the spool before the listener opens.
  auto line = process_->wait_for_line("listening on 127.0.0.1:", std::chrono::seconds(30));
  if (!line) return tl::unexpected(line.error());
  auto want = fmt::format("listening on 127.0.0.1:{}", cfg_.http_port);
  auto at = line->find(want);
  auto after = at == std::string::npos ? at : at + want.size();
  // Exact port: "…:8025" must not be satisfied by "…:80250".
  if (at == std::string::npos || (after < line->size() && std::isdigit(static_cast<unsigned char>((*line)[after]))))
    return tl::unexpected(fmt::format("server says {:?}, expected it to contain {:?}", *line, want));
  return {};
}

}  // namespace ringpost::it
