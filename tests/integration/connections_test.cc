// 10,000 concurrent keep-alive HTTP connections on one front thread: every one is answered,
// all of them stay open, and while they do a fresh client's submit is accepted and delivered.
// The clients are non-blocking sockets driven by one epoll loop in this thread; every phase
// has a deadline. Needs RLIMIT_NOFILE above 10,000 for this process and the server (which
// inherits the hard limit and raises its soft limit to it); skipped, with the reason, if the
// hard limit cannot be raised that far.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/ringpost_api.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kConnections = 10000;
constexpr int kSubmitEvery = 50;  // every 50th connection submits a message instead of GET /healthz
// This process holds kConnections sockets and the server as many again, plus their other files.
constexpr rlim_t kFilesNeeded = kConnections + 1024;

// Raises this process's open-file limit (soft, and hard if needed: root may); the server,
// forked from here, inherits it. Returns why it could not, or empty.
std::string raise_nofile(rlim_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::strerror(errno);
  if (lim.rlim_max < want) {
    rlimit more{want, want};
    if (::setrlimit(RLIMIT_NOFILE, &more) != 0)
      return fmt::format("RLIMIT_NOFILE hard limit is {} and cannot be raised to {} ({}); run as root or raise "
                         "it (ulimit -Hn)",
                         lim.rlim_max, want, std::strerror(errno));
    return {};
  }
  if (lim.rlim_cur < want) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return std::strerror(errno);
  }
  return {};
}

struct Client {
  int fd = -1;
  std::string out;  // request bytes not yet written
  std::size_t written = 0;
  std::string in;
  int status = 0;  // of the one response expected, once complete
};

// Length of one complete response at the start of `in` (status line, headers with
// Content-Length, body), or 0 while incomplete, or npos if it is not HTTP/1.1.
std::size_t parse_response(const std::string& in, int& status) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  if (in.compare(0, 9, "HTTP/1.1 ") != 0) return std::string::npos;
  status = std::atoi(in.c_str() + 9);
  std::size_t length = 0;
  for (std::size_t at = in.find("\r\n"); at < head_end; at = in.find("\r\n", at + 2)) {
    if (strncasecmp(in.c_str() + at + 2, "content-length:", 15) == 0) length = std::strtoul(in.c_str() + at + 17, nullptr, 10);
  }
  const std::size_t total = head_end + 4 + length;
  return in.size() >= total ? total : 0;
}

class ManyClients {
 public:
  explicit ManyClients(uint16_t port) : port_(port), ep_(::epoll_create1(EPOLL_CLOEXEC)) {}
  ~ManyClients() {
    for (Client& c : clients_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }

  // Connects n sockets (non-blocking; a connect in progress completes in the exchange below).
  tl::expected<void, std::string> connect(int n) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    clients_.resize(n);
    for (int i = 0; i < n; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return tl::make_unexpected(fmt::format("socket #{}: {}", i, std::strerror(errno)));
      clients_[i].fd = fd;
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
        return tl::make_unexpected(fmt::format("connect #{}: {}", i, std::strerror(errno)));
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.u32 = static_cast<uint32_t>(i);
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
    return {};
  }

  // Sends request(i) on every connection and waits (until `deadline`) for one response on each.
  // Returns how many connections got one; statuses are in status(i).
  template <typename RequestFor>
  int exchange(RequestFor request, Clock::time_point deadline) {
    int done = 0;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      clients_[i].out = request(static_cast<int>(i));
      clients_[i].written = 0;
      clients_[i].in.clear();
      clients_[i].status = 0;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.u32 = static_cast<uint32_t>(i);
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, clients_[i].fd, &ev);
    }
    std::vector<epoll_event> events(1024);
    char buf[4096];
    while (done < static_cast<int>(clients_.size()) && Clock::now() < deadline) {
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 200);
      for (int k = 0; k < n; ++k) {
        Client& c = clients_[events[k].data.u32];
        if (c.status) continue;
        if ((events[k].events & EPOLLOUT) && c.written < c.out.size()) {
          ssize_t w = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
          if (w > 0) c.written += static_cast<std::size_t>(w);
          if (c.written == c.out.size()) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.u32 = events[k].data.u32;
            ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
          }
        }
        if (events[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
          ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) c.in.append(buf, static_cast<std::size_t>(r));
          int status = 0;
          std::size_t len = parse_response(c.in, status);
          if (len == std::string::npos) {
            c.status = -1;  // not HTTP
            ++done;
          } else if (len > 0) {
            c.status = status;
            ++done;
          } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
            c.status = -2;  // closed or reset without a full response
            ++done;
          }
        }
      }
    }
    return done;
  }

  int status(int i) const { return clients_[i].status; }
  const std::string& response(int i) const { return clients_[i].in; }
  int size() const { return static_cast<int>(clients_.size()); }

 private:
  uint16_t port_;
  int ep_;
  std::vector<Client> clients_;
};

std::string submit_request(int i) {
  std::string body = to_json({"sender@example.test", {fmt::format("conn{}@sink.test", i)}, "many", "hello"});
  return fmt::format("POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: {}\r\n\r\n{}",
                     body.size(), body);
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

// The server's resident set in KiB, for the report line (not asserted: no memory targets here).
long rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

class Connections : public SinkServerTest {};

TEST_F(Connections, TenThousandKeepAliveClients) {
  if (std::string why = raise_nofile(kFilesNeeded); !why.empty()) GTEST_SKIP() << why;
  // The server starts with the usual soft limit of 1024 and must raise it to the hard limit
  // itself, or the 1,025th client is refused; this process takes the hard limit back after.
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  rlimit low{1024, lim.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // 10,000 held clients plus the fresh submitter and the readers: past the default
  // [server] max_connections (10,000), which would answer the last ones 503.
  ServerConfig cfg;
  cfg.server_toml = "max_connections = 10100\n";
  start_with_sink(cfg);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  ASSERT_TRUE(server);
  const auto deadline = Clock::now() + 180s;
  auto log_line = server->process().wait_for_line("RLIMIT_NOFILE", 5s);
  ASSERT_TRUE(log_line) << log_line.error();
  EXPECT_NE(log_line->find("(was 1024)"), std::string::npos) << *log_line;
  std::fprintf(stderr, "[ringpost-it] server: %s\n", log_line->c_str());

  const long rss_before = rss_kib(server->process().pid());
  ManyClients many(server->port());
  auto connected = many.connect(kConnections);
  ASSERT_TRUE(connected) << connected.error();
  auto request = [](int i) { return i % kSubmitEvery == 0 ? submit_request(i) : kHealthz; };
  const auto t0 = Clock::now();
  int answered = many.exchange(request, deadline);
  const auto first_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  ASSERT_EQ(answered, kConnections) << "answered before the deadline";
  int wrong = 0, submits = 0;
  std::string first_wrong;
  std::set<std::string> rcpts;
  for (int i = 0; i < kConnections; ++i) {
    const bool submit = i % kSubmitEvery == 0;
    const int want = submit ? 202 : 200;
    if (submit) {
      ++submits;
      rcpts.insert(fmt::format("conn{}@sink.test", i));
    }
    if (many.status(i) != want && wrong++ == 0)
      first_wrong = fmt::format("#{}: status {}, want {}: {}", i, many.status(i), want, many.response(i));
  }
  EXPECT_EQ(wrong, 0) << "first: " << first_wrong;

  // With all 10,000 still open, a fresh client is served and its message delivered.
  const std::string fresh_rcpt = "fresh@sink.test";
  {
    RingpostApi api(server->port());
    auto id = api.submit({"sender@example.test", {fresh_rcpt}, "fresh", "while 10k are open"});
    ASSERT_TRUE(id) << id.error();
  }
  rcpts.insert(fresh_rcpt);
  std::set<std::string> seen;
  const bool delivered = wait_until(60s, 250ms, [&] {
    seen.clear();
    for (const auto& m : sink->messages())
      for (const auto& r : m.rcpts) seen.insert(r);
    return std::includes(seen.begin(), seen.end(), rcpts.begin(), rcpts.end());
  });
  EXPECT_TRUE(delivered) << seen.size() << " of " << rcpts.size() << " recipients at the sink";
  EXPECT_TRUE(seen.count(fresh_rcpt)) << "the fresh client's message was not delivered";

  // Every connection survived as keep-alive: a second request on each is answered too.
  const auto t1 = Clock::now();
  answered = many.exchange([](int) { return kHealthz; }, deadline);
  const auto second_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count();
  ASSERT_EQ(answered, kConnections);
  int not_ok = 0;
  for (int i = 0; i < kConnections; ++i) not_ok += many.status(i) == 200 ? 0 : 1;
  EXPECT_EQ(not_ok, 0) << "connections not answered 200 on their second request";
  const long rss_after = rss_kib(server->process().pid());
  std::fprintf(stderr,
               "[ringpost-it] %d connections: first round (%d submits) answered in %lld ms, second in %lld ms; "
               "server RSS %ld -> %ld MiB (%ld B per connection)\n",
               kConnections, submits, (long long)first_ms, (long long)second_ms, rss_before >> 10, rss_after >> 10,
               (rss_after - rss_before) * 1024 / kConnections);
}

}  // namespace
}  // namespace ringpost::it
