// Process-group lifetime, readiness and file helpers for the interop MX servers.
#include "tests/interop/mx_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "tests/integration/wait.h"
#include "tests/interop/maildir.h"

namespace ringpost::interop {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kPoll = 20ms;
constexpr std::size_t kLogTail = 6000;

std::string tail(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

// --- MxServer ------------------------------------------------------------------------------

tl::expected<MxOptions, std::string> MxServer::resolve(MxOptions o, std::string default_domain,
                                                       std::string default_ip) {
  if (o.domains.empty()) o.domains.push_back(std::move(default_domain));
  if (o.ip.empty()) o.ip = std::move(default_ip);
  in_addr a{};
  if (::inet_pton(AF_INET, o.ip.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
    return tl::unexpected(fmt::format("ip '{}' is not an IPv4 loopback address (127.0.0.0/8)", o.ip));
  }
  for (const auto& d : o.domains) {
    // Domains go into config files unquoted in places: keep them to hostname characters.
    if (d.empty() || d.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                         std::string::npos) {
      return tl::unexpected(fmt::format("domain '{}' must be letters, digits, '.' and '-'", d));
    }
  }
  if (o.start_timeout > 20s) o.start_timeout = 20s;
  if (o.port == 0) {
    auto p = pick_free_port_on(o.ip);
    if (!p) return tl::unexpected(p.error());
    o.port = *p;
  }
  return o;
}

MxServer::MxServer(std::string kind, MxOptions options) : options_(std::move(options)), kind_(std::move(kind)) {}

MxServer::~MxServer() { stop(); }

std::string MxServer::endpoint() const { return fmt::format("{}:{}", host(), port()); }

int MxServer::delivered_count() const { return count_maildir(maildir()); }

std::vector<ReceivedMessage> MxServer::received_messages() const { return read_maildir(maildir()); }

bool MxServer::wait_for_delivered(int n, std::chrono::milliseconds timeout) const {
  return it::wait_until(timeout, kPoll, [&] { return delivered_count() >= n; });
}

std::string MxServer::describe() const {
  return fmt::format("{} MX {} ({}), dir {}, delivered {}; log:\n{}", kind_, endpoint(), hostname(),
                     dir().string(), delivered_count(), tail(log(), kLogTail));
}

bool MxServer::running() { return process_ && process_->running(); }

void MxServer::stop() { process_.reset(); }

tl::expected<void, std::string> MxServer::launch(std::vector<std::string> argv) {
  if (dir().empty()) return tl::unexpected(std::string("no private directory (mkdtemp failed)"));
  // A session of its own, so the daemon and what it forks are stopped as one group; no
  // descriptor of ours, so a socket the test holds never passes for the server's.
  auto p = test_support::ChildProcess::spawn(
      std::move(argv), {.output_file = dir() / (kind_ + ".out"), .new_session = true, .close_other_fds = true});
  if (!p) return tl::unexpected(fmt::format("spawn {}: {}", kind_, p.error()));
  process_.emplace(std::move(*p));
  const pid_t group = process_->process_group();

  // Ready means: something is in LISTEN on ip:port *and* that socket belongs to our process
  // group. A stray listener on the same port must not pass for the server (the server then
  // fails to bind and exits, which the loop sees).
  bool up = it::wait_until(options_.start_timeout, kPoll, [&] {
    if (!process_->running()) return true;
    unsigned long inode = listening_inode(options_.ip, options_.port);
    return inode != 0 && group_holds_socket(group, inode);
  });
  if (up && process_->running()) return {};
  std::string why = process_->running()
                        ? fmt::format("not listening on {} after {} ms", endpoint(), options_.start_timeout.count())
                        : fmt::format("exited before listening on {} ({})", endpoint(), process_->describe_exit());
  std::string message = fmt::format("{} MX {}; directory {}\n--- log ---\n{}", kind_, why, dir().string(),
                                    tail(log(), kLogTail));
  stop();
  // The most common cause, and one a server may not manage to log (Postfix's master reports
  // bind errors to syslog only): someone else holds the port.
  if (auto free = pick_free_port_on(options_.ip, options_.port); !free) {
    message += fmt::format("--- diagnosis ---\n{} is taken by another socket ({})\n", endpoint(), free.error());
  }
  message += start_failure_hint();
  return tl::unexpected(std::move(message));
}

std::string MxServer::process_output() const { return read_file(dir() / (kind_ + ".out")); }

tl::expected<TlsFiles, std::string> MxServer::install_tls_files(const TlsFiles& tls, uid_t uid, gid_t gid) const {
  fs::path d = dir() / "tls";
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) return tl::unexpected(fmt::format("mkdir {}: {}", d.string(), ec.message()));
  TlsFiles out{d / "cert.pem", d / "key.pem"};
  const std::tuple<fs::path, fs::path, mode_t> copies[] = {{tls.cert_file, out.cert_file, 0644},
                                                           {tls.key_file, out.key_file, 0600}};
  for (const auto& [from, to, mode] : copies) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return tl::unexpected(fmt::format("copy {} -> {}: {}", from.string(), to.string(), ec.message()));
    if (::chown(to.c_str(), uid, gid) != 0 || ::chmod(to.c_str(), mode) != 0) {
      return tl::unexpected(fmt::format("chown/chmod {}: {}", to.string(), std::strerror(errno)));
    }
  }
  return out;
}

tl::expected<void, std::string> MxServer::make_maildir(uid_t uid, gid_t gid) const {
  fs::path md = maildir();
  for (fs::path p : {md.parent_path(), md, md / "tmp", md / "new", md / "cur"}) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) return tl::unexpected(fmt::format("mkdir {}: {}", p.string(), ec.message()));
    // mail/ stays root's; the maildir itself belongs to the user the server delivers as.
    if (p != md.parent_path() && (::chown(p.c_str(), uid, gid) != 0 || ::chmod(p.c_str(), 0700) != 0)) {
      return tl::unexpected(fmt::format("chown/chmod {}: {}", p.string(), std::strerror(errno)));
    }
  }
  return {};
}

// --- helpers ---------------------------------------------------------------------------------

tl::expected<std::string, std::string> run_to_completion(std::vector<std::string> argv,
                                                         const fs::path& output_file,
                                                         std::chrono::milliseconds timeout) {
  std::string what = argv.empty() ? std::string() : argv[0];
  auto done = test_support::run_to_completion(std::move(argv), {.output_file = output_file, .close_other_fds = true},
                                              timeout);
  if (!done) return tl::unexpected(done.error());
  std::string output = read_file(output_file);
  if (done->timed_out) {
    return tl::unexpected(fmt::format("{} did not finish within {} ms; output:\n{}", what, timeout.count(),
                                      tail(output, kLogTail)));
  }
  if (!WIFEXITED(done->status) || WEXITSTATUS(done->status) != 0) {
    return tl::unexpected(fmt::format("{} {}; output:\n{}", what, test_support::describe_wait_status(done->status),
                                      tail(output, kLogTail)));
  }
  return output;
}

tl::expected<void, std::string> write_file(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return tl::unexpected(fmt::format("write {} failed", path.string()));
  ::chmod(path.c_str(), 0644);
  return {};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

tl::expected<std::pair<uid_t, gid_t>, std::string> lookup_user(const std::string& name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &found) != 0 || found == nullptr) {
    return tl::unexpected(fmt::format("no user '{}' in the passwd database", name));
  }
  return std::pair{pw.pw_uid, pw.pw_gid};
}

unsigned long listening_inode(const std::string& ip, uint16_t port) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return 0;
  // /proc/net/tcp prints the address as the raw 32-bit word in host byte order, then the port.
  const std::string want = fmt::format("{:08X}:{:04X}", a.s_addr, port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    std::istringstream ls(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    ls >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (state == "0A" && local == want) return inode;  // 0A = TCP_LISTEN
  }
  return 0;
}

bool is_listening(const std::string& ip, uint16_t port) { return listening_inode(ip, port) != 0; }

bool group_holds_socket(pid_t pgid, unsigned long inode) {
  const std::string target = fmt::format("socket:[{}]", inode);
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    std::string stat = read_file(it->path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = 0, pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp) || pgrp != pgid) continue;
    std::error_code fd_ec;
    for (fs::directory_iterator fd(it->path() / "fd", fd_ec), fd_end; !fd_ec && fd != fd_end; fd.increment(fd_ec)) {
      std::error_code link_ec;
      if (fs::read_symlink(fd->path(), link_ec).string() == target) return true;
    }
  }
  return false;
}

tl::expected<uint16_t, std::string> pick_free_port_on(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    int e = errno;
    ::close(fd);
    return tl::unexpected(fmt::format("bind {}:{}: {}", ip, port, std::strerror(e)));
  }
  ::close(fd);
  return ntohs(sa.sin_port);
}

std::optional<std::string> require_root() {
  if (::geteuid() != 0) return std::string("needs root (the servers start as root and drop to their own users)");
  return std::nullopt;
}

}  // namespace ringpost::interop
