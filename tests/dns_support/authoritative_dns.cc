// knotd as a test fixture: config, zone files, lifecycle, and the blackhole that stands in for
// a server that never answers. See authoritative_dns.h for the invariants.
#include "tests/dns_support/authoritative_dns.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/dns_support/dns_probe.h"
#include "tests/dns_support/subprocess.h"

namespace ringpost::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kKnotd = "/usr/sbin/knotd";
constexpr const char* kKnotc = "/usr/sbin/knotc";
constexpr milliseconds kStartTimeout{10'000};
constexpr milliseconds kPublishTimeout{5'000};
constexpr milliseconds kKnotcTimeout{10'000};
constexpr milliseconds kStopGrace{5'000};
constexpr milliseconds kProbeTimeout{200};
constexpr milliseconds kProbeEvery{20};
// sun_path is 108 bytes; the control socket must fit under the temp directory.
constexpr std::size_t kMaxSocketPath = 100;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to a sibling temp file and renames it over `path`: knotd reading the zone (at
// start, or on a reload someone else triggers) never sees half of it.
tl::expected<void, std::string> write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return tl::unexpected(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return tl::unexpected(fmt::format("rename {}: {}", tmp.string(), ec.message()));
  return {};
}

std::filesystem::path make_temp_dir() {
  std::filesystem::path base = std::filesystem::temp_directory_path();
  if (base.string().size() + 40 > kMaxSocketPath) base = "/tmp";
  std::string templ = (base / "ringpost-dns-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error(fmt::format("mkdtemp {}: {}", templ, std::strerror(errno)));
  }
  return templ;
}

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
};

SocketAddress make_address(const std::string& ip, uint16_t port) {
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
  } else {
    throw std::invalid_argument(fmt::format("listen_ip '{}' is not an IP address", ip));
  }
  return a;
}

// A socket bound to ip:port, or -1 with errno set.
int bind_socket(const std::string& ip, uint16_t port, int type) {
  SocketAddress a = make_address(ip, port);
  const int fd = ::socket(a.storage.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a.storage), a.len) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage s{};
  socklen_t len = sizeof(s);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&s), &len);
  return s.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&s)->sin_port)
                                : ntohs(reinterpret_cast<sockaddr_in6*>(&s)->sin6_port);
}

// DNS needs the port free for UDP and TCP both: the kernel picks a UDP port, and we keep it only
// if TCP can bind it too. Both are closed again before knotd binds, so another process could
// take the port in between; acceptable on a test machine, where the window is milliseconds.
uint16_t pick_free_port(const std::string& ip) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int udp = bind_socket(ip, 0, SOCK_DGRAM);
    if (udp < 0) throw std::runtime_error(fmt::format("bind UDP {}:0: {}", ip, std::strerror(errno)));
    const uint16_t port = bound_port(udp);
    const int tcp = bind_socket(ip, port, SOCK_STREAM);
    ::close(udp);
    if (tcp >= 0) {
      ::close(tcp);
      return port;
    }
  }
  throw std::runtime_error(fmt::format("no port free for both UDP and TCP on {}", ip));
}

// knotd switches to this user after binding; as root that is root, so the files under our
// temp directory stay readable and writable without a chown.
std::string current_user_and_group() {
  const passwd* pw = ::getpwuid(::geteuid());
  const group* gr = ::getgrgid(::getegid());
  if (pw == nullptr || gr == nullptr) return "";
  return fmt::format("{}:{}", pw->pw_name, gr->gr_name);
}

std::string tail(const std::string& text, std::size_t max_chars) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

}  // namespace

AuthoritativeDns::AuthoritativeDns(Options options) : options_(std::move(options)) {
  if (options_.zones.empty()) throw std::invalid_argument("AuthoritativeDns needs at least one zone");
  for (auto& z : options_.zones) z = canonical_name(z);
  dir_ = make_temp_dir();
  config_ = dir_ / "knot.conf";
  control_socket_ = dir_ / "run" / "knot.sock";
  std::filesystem::create_directories(dir_ / "run");
  std::filesystem::create_directories(dir_ / "db");
  std::filesystem::create_directories(dir_ / "zones");
  port_ = options_.port != 0 ? options_.port : pick_free_port(options_.listen_ip);

  // One worker of each kind: a test sends a handful of queries, and ctest may run many servers
  // at once on two cores. zonefile-sync -1 and journal-content none: knotd never writes back
  // into our zone files or keeps a history that would outlive a rewrite. Semantic checks stay
  // at the default (off), which still rejects what no server may load (CNAME beside other data,
  // a missing SOA), the mistakes a test should hear about.
  std::string conf = "server:\n";
  conf += fmt::format("    rundir: \"{}\"\n", (dir_ / "run").string());
  if (auto user = current_user_and_group(); !user.empty()) conf += fmt::format("    user: {}\n", user);
  conf += fmt::format("    pidfile: \"{}\"\n", (dir_ / "run" / "knot.pid").string());
  conf += fmt::format("    listen: {}@{}\n", options_.listen_ip, port_);
  conf += "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n";
  conf += "log:\n  - target: stderr\n    any: info\n";
  conf += fmt::format("database:\n    storage: \"{}\"\n", (dir_ / "db").string());
  conf += fmt::format("control:\n    listen: \"{}\"\n", control_socket_.string());
  conf += "template:\n  - id: default\n";
  conf += fmt::format("    storage: \"{}\"\n", (dir_ / "zones").string());
  conf += "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n";
  conf += "zone:\n";
  for (const auto& z : options_.zones) {
    conf += fmt::format("  - domain: \"{}.\"\n    file: \"{}.zone\"\n", z, z.empty() ? "root" : z);
  }
  if (auto ok = write_file_atomically(config_, conf); !ok) throw std::runtime_error(ok.error());
}

AuthoritativeDns::~AuthoritativeDns() {
  stop(StopMode::kClosePort);
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test != nullptr && ::testing::Test::HasFailure()) {
    std::fprintf(stderr, "AuthoritativeDns: test failed, keeping %s (knotd.log, zones/)\n", dir_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::optional<std::string> AuthoritativeDns::unavailable_reason() {
  for (const char* bin : {kKnotd, kKnotc}) {
    if (::access(bin, X_OK) != 0) {
      return fmt::format("{} not found (Debian package knot; scripts/install-deps.sh installs it)", bin);
    }
  }
  return std::nullopt;
}

std::string AuthoritativeDns::zone_of(std::string_view canonical) const {
  const std::string* best = nullptr;
  for (const auto& z : options_.zones) {
    if (name_in_zone(canonical, z) && (best == nullptr || z.size() > best->size())) best = &z;
  }
  if (best == nullptr) throw std::invalid_argument(fmt::format("'{}' is in none of the served zones", canonical));
  return *best;
}

void AuthoritativeDns::add(DnsRecord record) {
  if (record.type.empty()) throw std::invalid_argument(fmt::format("record for '{}' has no type", record.name));
  if (canonical_type(record.type) == "SOA") throw std::invalid_argument("the harness writes the SOA itself");
  zone_of(canonical_name(record.name));  // throws for a name outside every zone
  records_.push_back(std::move(record));
}

void AuthoritativeDns::replace(std::string_view name, std::string_view type, std::vector<DnsRecord> records) {
  const std::string n = canonical_name(name);
  const std::string t = canonical_type(type);
  for (const auto& r : records) {
    if (canonical_name(r.name) != n || canonical_type(r.type) != t) {
      throw std::invalid_argument(
          fmt::format("replace({}, {}) given a record for ({}, {})", name, type, r.name, r.type));
    }
  }
  remove(name, type);
  for (auto& r : records) add(std::move(r));
}

void AuthoritativeDns::remove(std::string_view name, std::string_view type) {
  const std::string n = canonical_name(name);
  const std::string t = canonical_type(type);
  std::erase_if(records_, [&](const DnsRecord& r) {
    return canonical_name(r.name) == n && (t == "ANY" || canonical_type(r.type) == t);
  });
}

std::string AuthoritativeDns::server_spec() const {
  if (options_.listen_ip.find(':') != std::string::npos) return fmt::format("[{}]:{}", options_.listen_ip, port_);
  return fmt::format("{}:{}", options_.listen_ip, port_);
}

std::string AuthoritativeDns::log() const { return read_file(dir_ / "knotd.log"); }

bool AuthoritativeDns::running() {
  if (pid_ < 0) return false;
  if (try_reap(pid_)) {
    pid_ = -1;
    return false;
  }
  return true;
}

tl::expected<void, std::string> AuthoritativeDns::write_zones() {
  ++serial_;
  for (const auto& z : options_.zones) {
    std::vector<DnsRecord> mine;
    for (const auto& r : records_) {
      if (zone_of(canonical_name(r.name)) == z) mine.push_back(r);
    }
    auto ok = write_file_atomically(dir_ / "zones" / fmt::format("{}.zone", z.empty() ? "root" : z),
                                    render_zone(z, serial_, mine));
    if (!ok) return ok;
  }
  return {};
}

// knotc zone-check loads the files the way knotd would, offline: a bad record is reported with
// knotd's own words now, instead of as a reload that "failed" or a start that never answers.
tl::expected<void, std::string> AuthoritativeDns::check_zones() {
  auto r = run_command({kKnotc, "-c", config_.string(), "zone-check"}, dir_ / "knotc.out", kKnotcTimeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->exited_ok()) {
    return tl::unexpected(fmt::format("knotc zone-check rejected serial {} ({}):\n{}", serial_,
                                      describe_wait_status(r->status), r->output));
  }
  return {};
}

tl::expected<void, std::string> AuthoritativeDns::wait_for_serial(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last_error;
  for (const auto& z : options_.zones) {
    for (;;) {
      if (!running()) return tl::unexpected(fmt::format("knotd exited while loading {}: {}", z, last_error));
      auto got = query_soa_serial(options_.listen_ip, port_, z, kProbeTimeout);
      if (got && *got == serial_) break;
      last_error = got ? fmt::format("{} answers serial {}, want {}", z, *got, serial_)
                       : fmt::format("{}: {}", z, got.error());
      if (Clock::now() >= deadline) {
        return tl::unexpected(fmt::format("knotd not serving serial {} within {} ms: {}", serial_,
                                          timeout.count(), last_error));
      }
      std::this_thread::sleep_for(kProbeEvery);
    }
  }
  return {};
}

tl::expected<void, std::string> AuthoritativeDns::publish() {
  if (auto ok = write_zones(); !ok) return ok;
  if (auto ok = check_zones(); !ok) return ok;
  if (!running()) return {};  // served from the next start()
  // -b: knotc returns once the load event has run, and fails if the load failed.
  auto r = run_command({kKnotc, "-s", control_socket_.string(), "-b", "zone-reload"}, dir_ / "knotc.out",
                       kKnotcTimeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->exited_ok()) {
    return tl::unexpected(fmt::format("knotc zone-reload failed ({}): {}\n{}", describe_wait_status(r->status),
                                      r->output, tail(log(), 2000)));
  }
  // Belt and braces: what counts is what the server says on the wire.
  if (auto ok = wait_for_serial(kPublishTimeout); !ok) {
    return tl::unexpected(fmt::format("{}\n{}", ok.error(), tail(log(), 2000)));
  }
  return {};
}

tl::expected<void, std::string> AuthoritativeDns::start() {
  if (running()) return tl::unexpected(fmt::format("knotd already running (pid {})", pid_));
  if (auto why = unavailable_reason()) return tl::unexpected(*why);
  if (auto ok = write_zones(); !ok) return ok;
  if (auto ok = check_zones(); !ok) return ok;
  release_blackhole();
  // Foreground is knotd's default: it stays our child, so we can reap it and read its stderr.
  auto pid = spawn_child({kKnotd, "-c", config_.string()}, dir_ / "knotd.log");
  if (!pid) return tl::unexpected(pid.error());
  pid_ = *pid;
  if (auto ok = wait_for_serial(kStartTimeout); !ok) {
    stop(StopMode::kClosePort);
    return tl::unexpected(fmt::format("{}\nknotd.log:\n{}", ok.error(), tail(log(), 4000)));
  }
  return {};
}

void AuthoritativeDns::stop(StopMode mode) {
  if (pid_ >= 0) {
    terminate_child(pid_, kStopGrace);
    pid_ = -1;
  }
  if (mode == StopMode::kBlackhole) {
    hold_blackhole();
  } else {
    release_blackhole();
  }
}

tl::expected<void, std::string> AuthoritativeDns::restart() {
  stop(StopMode::kClosePort);
  return start();
}

void AuthoritativeDns::hold_blackhole() {
  if (blackhole_udp_ >= 0) return;
  // The port was knotd's a moment ago; SO_REUSEADDR (set in bind_socket) lets the TCP listener
  // bind past connections still in TIME_WAIT.
  blackhole_udp_ = bind_socket(options_.listen_ip, port_, SOCK_DGRAM);
  if (blackhole_udp_ < 0) {
    ADD_FAILURE() << "blackhole: bind UDP " << server_spec() << ": " << std::strerror(errno);
    return;
  }
  blackhole_tcp_ = bind_socket(options_.listen_ip, port_, SOCK_STREAM);
  // Listening but never accepting: a TCP query connects (the kernel completes the handshake
  // into the backlog) and then hears nothing, like the UDP one.
  if (blackhole_tcp_ < 0 || ::listen(blackhole_tcp_, 16) != 0) {
    ADD_FAILURE() << "blackhole: bind/listen TCP " << server_spec() << ": " << std::strerror(errno);
  }
}

void AuthoritativeDns::release_blackhole() {
  for (int* fd : {&blackhole_udp_, &blackhole_tcp_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

}  // namespace ringpost::testing
