// smtp-sink launcher and parsers for its -c counters and -D dump file.
#include "tests/integration/smtp_sink.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tests/integration/free_port.h"

namespace ringpost::it {
namespace {

constexpr const char* kSinkBinary = "/usr/sbin/smtp-sink";
constexpr std::string_view kMarker = "RINGPOST-SINK-TRANSACTION";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Calls f(block) for each transaction in the dump; a block starts after a marker line.
template <typename F>
void for_each_transaction(const std::string& dump, F&& f) {
  const std::string sep = std::string(kMarker) + "\n";
  std::size_t at = dump.find(sep);
  while (at != std::string::npos) {
    std::size_t begin = at + sep.size();
    std::size_t next = dump.find("\n" + sep, begin);
    std::size_t end = next == std::string::npos ? dump.size() : next + 1;
    f(std::string_view(dump).substr(begin, end - begin));
    at = next == std::string::npos ? next : next + 1;
  }
}

}  // namespace

std::string bare_address(std::string_view arg) {
  auto lt = arg.find('<');
  auto gt = arg.find('>', lt == std::string_view::npos ? 0 : lt);
  if (lt != std::string_view::npos && gt != std::string_view::npos) return std::string(arg.substr(lt + 1, gt - lt - 1));
  auto sp = arg.find(' ');
  return std::string(arg.substr(0, sp));
}

tl::expected<SmtpSink, std::string> SmtpSink::start(const std::filesystem::path& dir, uint16_t port,
                                                    std::vector<std::string> extra_args, std::string ip) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return tl::unexpected(fmt::format("mkdir {}: {}", dir.string(), ec.message()));
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) return tl::unexpected(std::string("no user 'nobody' for smtp-sink -u"));
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return tl::unexpected(fmt::format("chown {} to nobody failed", dir.string()));
  }
  auto dump = dir / "dump";
  std::vector<std::string> argv = {kSinkBinary,
                                   "-c",
                                   "-D", dump.string(),
                                   // smtp-sink unescapes -S, so "\\n" here becomes a newline.
                                   "-S", std::string(kMarker) + "\\n",
                                   "-h", "sink.test",
                                   "-m", "512"};
  if (::geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("nobody");
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  // Postfix writes an IPv6 listen address in brackets: "[::1]:2525".
  argv.push_back(ip.find(':') != std::string::npos ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port));
  argv.push_back("1024");  // listen backlog
  auto proc = Process::spawn(std::move(argv), dir / "sink.out");
  if (!proc) return tl::unexpected(proc.error());

  // smtp-sink prints nothing when ready, and a probe connection would be counted as a
  // session, so ask the kernel's socket table instead. By address too: sinks on 127.0.0.2 and
  // 127.0.0.3 may share a port, and the first one listening must not stand in for the second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!port_is_listening(port, ip)) {
    if (!proc->running())
      return tl::unexpected(fmt::format("smtp-sink {}: {}", proc->describe_exit(), proc->output_tail()));
    if (std::chrono::steady_clock::now() > deadline)
      return tl::unexpected(fmt::format("smtp-sink not listening on {}:{} after 10 s: {}", ip, port, proc->output_tail()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return SmtpSink(std::move(*proc), dump, port, std::move(ip));
}

SinkCounters SmtpSink::counters() const {
  // do_stats() writes "sess=%d quit=%d mesg=%d\r" and flushes; the last one is current.
  static const std::regex re(R"(sess=(\d+) quit=(\d+) mesg=(\d+))");
  std::string out = process_.output();
  SinkCounters c;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it) {
    c.sessions = std::stoi((*it)[1]);
    c.quits = std::stoi((*it)[2]);
    c.messages = std::stoi((*it)[3]);
  }
  return c;
}

int SmtpSink::message_count() const {
  int n = 0;
  for_each_transaction(read_file(dump_file_), [&](std::string_view) { ++n; });
  return n;
}

std::vector<SinkMessage> SmtpSink::messages() const {
  std::vector<SinkMessage> out;
  for_each_transaction(read_file(dump_file_), [&](std::string_view block) {
    SinkMessage m;
    // smtp-sink's own records come first; its Received: header (3 lines) ends them.
    std::size_t pos = 0;
    bool in_own_headers = true;
    while (pos < block.size() && in_own_headers) {
      std::size_t eol = block.find('\n', pos);
      if (eol == std::string_view::npos) eol = block.size();
      std::string_view line = block.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.starts_with("X-Mail-Args: ")) m.mail_from = std::string(line.substr(13));
      else if (line.starts_with("X-Rcpt-Args: ")) m.rcpts.push_back(bare_address(line.substr(13)));
      else if (line.starts_with("X-Helo-Args: ")) m.helo = std::string(line.substr(13));
      else if (line.starts_with("Received: ")) {
        for (int i = 0; i < 2 && pos < block.size(); ++i) {  // "\tby ..." and "\tdate"
          eol = block.find('\n', pos);
          pos = eol == std::string_view::npos ? block.size() : eol + 1;
        }
        in_own_headers = false;
      }
    }
    if (pos < block.size()) m.content = std::string(block.substr(pos));
    out.push_back(std::move(m));
  });
  return out;
}

std::string SmtpSink::describe() const {
  auto c = counters();
  return fmt::format("smtp-sink on {}:{}: sess={} quit={} mesg={}, {} transactions in {}", ip_, port_, c.sessions,
                     c.quits, c.messages, message_count(), dump_file_.string());
}

}  // namespace ringpost::it
