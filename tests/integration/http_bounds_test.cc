// The HTTP front's per-connection bounds (docs/security.md "Connections"), each driven past its
// limit by a client of the real `ringpost` binary: accept back-off at EMFILE, max_output_bytes,
// max_request_bytes while busy, max_connections, header_timeout, idle_timeout. Each checks the
// refusal from the client's side, the metric, and that the server still serves others.
//
// The timeouts use short real durations and sleeps: the front reads the wall clock (now_ms())
// once per loop turn and has no injectable clock, and these checks need a real kernel anyway
// (sockets, descriptors). Margins are wide (1 s limits checked within 2-5 s windows).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/temp_dir.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A server with one shard and `server_toml` inside [server].
tl::expected<RingpostServer, std::string> start_server(const TempDir& dir, std::string server_toml) {
  auto ports = pick_free_ports(1);
  if (!ports) return tl::unexpected(std::string("no free port"));
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.threads = 1;
  cfg.server_toml = std::move(server_toml);
  return RingpostServer::start(dir.path(), cfg);
}

// A blocking TCP socket connected to the server (optionally with a small receive buffer, set
// before connect so the window is small from the start); -1 on failure.
int connect_raw(uint16_t port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends as much of `bytes` as the peer takes, without blocking, until all is sent or nothing
// more went for `stall`. Returns the bytes sent.
std::size_t push(int fd, std::string_view bytes, std::chrono::milliseconds stall) {
  std::size_t sent = 0;
  auto last = Clock::now();
  while (sent < bytes.size() && Clock::now() - last < stall) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      last = Clock::now();
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      break;
    } else {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 50);
    }
  }
  return sent;
}

// Everything the peer sends until EOF or `deadline`; `eof` says whether EOF came.
std::string read_until_eof(int fd, std::chrono::milliseconds deadline, bool& eof) {
  std::string got;
  eof = false;
  const auto end = Clock::now() + deadline;
  char buf[4096];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      eof = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// The value of one sample of the /metrics page, e.g. `ringpost_limit_hits_total{limit="x"}`;
// -1 if absent.
double sample(const std::string& page, std::string_view series) {
  for (std::size_t at = 0; at < page.size();) {
    std::size_t end = page.find('\n', at);
    if (end == std::string::npos) end = page.size();
    std::string_view line(page.data() + at, end - at);
    if (line.starts_with(series) && line.size() > series.size() && line[series.size()] == ' ')
      return std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    at = end + 1;
  }
  return -1;
}

double metric(uint16_t port, std::string_view series) {
  HttpClient http(port, 30s);
  auto r = http.get("/metrics");
  if (!r || r->status != 200) return -2;
  return sample(r->body, series);
}

std::string limit_series(std::string_view limit) { return fmt::format("ringpost_limit_hits_total{{limit=\"{}\"}}", limit); }

std::size_t count_lines_with(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// EMFILE on accept: the server pauses accepting (back-off) instead of re-arming in a spin, logs
// a few lines with counts, counts it, keeps serving the connection it has, and accepts again
// once descriptors are free. The server runs under prlimit(1) with a low RLIMIT_NOFILE: lowering
// the limit of a running server with prlimit(2) would not do, because the kernel takes the
// limit of a multishot accept when the SQE is prepared, not at each accept.
TEST(HttpBounds, AcceptBacksOffAtEmfileAndRecovers) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  if (!std::filesystem::exists("/usr/bin/prlimit")) GTEST_SKIP() << "no /usr/bin/prlimit (util-linux)";
  TempDir dir;
  auto rendered = start_server(dir, "");  // writes ringpost.toml and checks that it serves
  ASSERT_TRUE(rendered) << rendered.error();
  const uint16_t port = rendered->port();
  ASSERT_TRUE(rendered->stop());
  ASSERT_TRUE(wait_until(10s, 10ms, [&] {
    int fd = connect_raw(port);
    if (fd >= 0) ::close(fd);
    return fd < 0;
  })) << "the first server still listens";
  // About 16 descriptors at start (stdio, eventfds, rings, spool); 40 leaves room for some
  // clients, not for the 40 below.
  constexpr int kNoFile = 40;
  auto proc = Process::spawn({"/usr/bin/prlimit", fmt::format("--nofile={}:{}", kNoFile, kNoFile), "--",
                              ringpost_binary().string(), "serve", "--config", (dir.path() / "ringpost.toml").string()},
                             dir.path() / "emfile.log");
  ASSERT_TRUE(proc) << proc.error();
  auto line = proc->wait_for_line("listening on 127.0.0.1:", 30s);
  ASSERT_TRUE(line) << line.error();

  HttpClient held(port, 10s);
  auto first = held.get("/healthz");
  ASSERT_TRUE(first) << first.error();
  ASSERT_EQ(first->status, 200);

  std::vector<int> clients;
  for (int i = 0; i < kNoFile; ++i) {
    int fd = connect_raw(port);  // completes in the listen backlog even when not accepted
    ASSERT_GE(fd, 0) << std::strerror(errno);
    clients.push_back(fd);
  }
  // Three seconds at EMFILE: the old spin wrote some 200,000 lines in that time.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(500ms);
    auto h = held.get("/healthz");
    ASSERT_TRUE(h) << "an open connection was not served at EMFILE: " << h.error();
    EXPECT_EQ(h->status, 200);
  }
  auto page = held.get("/metrics");
  ASSERT_TRUE(page) << page.error();
  const double hits = sample(page->body, limit_series("open_files"));
  EXPECT_GE(hits, 1) << "accept failures at EMFILE were not counted";
  // Back-off 100, 200, 400, 800, 1000 ms: some 7 accept attempts in 3 s, not thousands.
  EXPECT_LE(hits, 20) << "accept was retried without backing off";
  const std::string log = proc->output();
  const std::size_t log_lines = count_lines_with(log, "accept:");
  EXPECT_GE(log_lines, 1u) << "EMFILE on accept was not logged:\n" << log;
  EXPECT_LE(log_lines, 6u) << "EMFILE on accept flooded the log";
  EXPECT_NE(log.find("Too many open files"), std::string::npos) << log.substr(0, 4000);

  // Descriptors come back as clients leave (the limit stays low): new clients are served again.
  for (int fd : clients) ::close(fd);
  bool served = wait_until(15s, 100ms, [&] {
    HttpClient fresh(port, 2s);
    auto r = fresh.get("/healthz");
    return r && r->status == 200;
  });
  EXPECT_TRUE(served) << "no new connection was accepted after descriptors were freed";
  EXPECT_NE(proc->output().find("accept: accepting again"), std::string::npos);
  EXPECT_TRUE(proc->terminate(10s));
}

// 40,000 pipelined requests whose answers are not read: the server stops reading and parsing
// once max_output_bytes wait to be sent, so its buffered output stays at that plus one answer;
// and once the client reads, every request is answered, in order.
TEST(HttpBounds, UnreadAnswersStopReadingAtMaxOutputBytes) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  constexpr std::size_t kMaxOutput = 65536;
  auto server = start_server(dir, fmt::format("max_output_bytes = {}\n", kMaxOutput));
  ASSERT_TRUE(server) << server.error();
  const uint16_t port = server->port();
  HttpClient other(port, 30s);
  auto sized = other.get("/metrics");
  ASSERT_TRUE(sized) << sized.error();
  const std::size_t one_answer = sized->body.size() + 512;

  constexpr int kRequests = 40000;
  std::string requests;
  for (int i = 0; i < kRequests; ++i) requests += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  int fd = connect_raw(port, 4096);
  ASSERT_GE(fd, 0);
  const std::size_t pushed = push(fd, requests, 2s);
  EXPECT_GT(pushed, 0u);
  // Let the server work through what it took.
  std::this_thread::sleep_for(1s);
  auto page = other.get("/metrics");
  ASSERT_TRUE(page) << page.error();
  const double peak = sample(page->body, "ringpost_http_connection_output_peak_bytes");
  ASSERT_GE(peak, 0) << "no output peak metric";
  EXPECT_LE(peak, static_cast<double>(kMaxOutput + one_answer))
      << "a connection buffered more than max_output_bytes plus one answer";
  EXPECT_GE(sample(page->body, limit_series("max_output_bytes")), 1);

  // Now read: every request gets its answer (backpressure delays, never drops).
  std::string rest = requests.substr(pushed);
  std::size_t answers = 0, rest_sent = 0;
  std::string tail;
  const auto end = Clock::now() + 240s;
  char buf[65536];
  while (answers < kRequests && Clock::now() < end) {
    if (rest_sent < rest.size()) {
      ssize_t n = ::send(fd, rest.data() + rest_sent, rest.size() - rest_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) rest_sent += static_cast<std::size_t>(n);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    // Count status lines across reads: keep the last few bytes, too short to hold a whole one.
    tail.append(buf, static_cast<std::size_t>(n));
    const std::string_view marker = "HTTP/1.1 200 ";
    for (std::size_t f = tail.find(marker); f != std::string::npos; f = tail.find(marker, f + 1)) ++answers;
    if (tail.size() >= marker.size()) tail.erase(0, tail.size() - (marker.size() - 1));
  }
  ::close(fd);
  EXPECT_EQ(answers, static_cast<std::size_t>(kRequests));
  auto after = other.get("/metrics");
  ASSERT_TRUE(after) << after.error();
  EXPECT_LE(sample(after->body, "ringpost_http_connection_output_peak_bytes"),
            static_cast<double>(kMaxOutput + one_answer));
  EXPECT_TRUE(server->stop());
}

// Bytes pushed on a connection whose request is busy (a long poll) stay in the kernel: the
// server arms no receive meanwhile, so what it holds for the connection never passes
// max_request_bytes plus one receive.
TEST(HttpBounds, BytesPushedOnABusyLongPollAreNotRead) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  constexpr std::size_t kMaxRequest = 65536;
  auto server = start_server(dir, fmt::format("max_request_bytes = {}\n", kMaxRequest));
  ASSERT_TRUE(server) << server.error();
  const uint16_t port = server->port();
  int fd = connect_raw(port);
  ASSERT_GE(fd, 0);
  const std::string poll_request = "GET /v1/events?wait=20 HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(push(fd, poll_request, 2s), poll_request.size());
  std::this_thread::sleep_for(300ms);  // the long poll is parked
  const std::string junk(64u << 20, 'x');
  const std::size_t pushed = push(fd, junk, 2s);
  // The kernel's buffers took this much; more than the bound, so the bound is what held.
  EXPECT_GT(pushed, kMaxRequest + 16384);
  const double peak = metric(port, "ringpost_http_connection_input_peak_bytes");
  ASSERT_GE(peak, 0) << "no input peak metric";
  EXPECT_LE(peak, static_cast<double>(kMaxRequest + 16384)) << "pushed " << pushed;
  ::close(fd);
  // Control: another client is served normally.
  HttpClient http(port, 10s);
  auto h = http.get("/healthz");
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->status, 200);
  EXPECT_TRUE(server->stop());
}

// Over max_connections: the next client gets 503 too_many_connections and a close; once a
// connection leaves, a new one is served.
TEST(HttpBounds, MaxConnectionsAnswers503) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  auto server = start_server(dir, "max_connections = 3\n");
  ASSERT_TRUE(server) << server.error();
  const uint16_t port = server->port();
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<HttpClient>(port, 10s));
    auto r = held.back()->get("/healthz");
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->status, 200);
  }
  int fd = connect_raw(port);
  ASSERT_GE(fd, 0);
  bool eof = false;
  const std::string answer = read_until_eof(fd, 5s, eof);
  ::close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503")) << answer;
  EXPECT_NE(answer.find(R"({"error":{"code":"too_many_connections")"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_TRUE(eof) << "the refused connection was left open";
  // The held connections are still served; the metric is read on one of them.
  auto page = held[0]->get("/metrics");
  ASSERT_TRUE(page) << page.error();
  EXPECT_GE(sample(page->body, limit_series("max_connections")), 1);
  EXPECT_EQ(sample(page->body, "ringpost_http_connections"), 3);
  held.pop_back();  // closes one
  bool served = wait_until(10s, 100ms, [&] {
    HttpClient fresh(port, 2s);
    auto r = fresh.get("/healthz");
    return r && r->status == 200;
  });
  EXPECT_TRUE(served) << "a slot freed by a leaving client was not reused";
  EXPECT_TRUE(server->stop());
}

// header_timeout (408 header_timeout for headers not in time, while a body under way is held
// to the longer request_timeout) and idle_timeout (a keep-alive connection with nothing under
// way is closed).
TEST(HttpBounds, HeaderAndIdleTimeouts) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  auto server = start_server(dir, "header_timeout = \"1s\"\nrequest_timeout = \"4s\"\nidle_timeout = \"1s\"\n");
  ASSERT_TRUE(server) << server.error();
  const uint16_t port = server->port();

  // Headers that never end: 408 header_timeout after ~1 s (well before request_timeout).
  int slow_head = connect_raw(port);
  ASSERT_GE(slow_head, 0);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(push(slow_head, head, 1s), head.size());
  // A body that trickles: its headers are in, so only request_timeout (4 s) applies.
  int slow_body = connect_raw(port);
  ASSERT_GE(slow_body, 0);
  const std::string post = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 100\r\n\r\n{";
  ASSERT_EQ(push(slow_body, post, 1s), post.size());
  // A keep-alive connection that finished its request and then says nothing.
  int idle = connect_raw(port);
  ASSERT_GE(idle, 0);
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(push(idle, get, 1s), get.size());

  bool eof = false;
  const auto t0 = Clock::now();
  const std::string head_answer = read_until_eof(slow_head, 5s, eof);
  const auto head_took = Clock::now() - t0;
  EXPECT_TRUE(head_answer.starts_with("HTTP/1.1 408")) << head_answer;
  EXPECT_NE(head_answer.find("header_timeout"), std::string::npos) << head_answer;
  EXPECT_TRUE(eof);
  EXPECT_LT(head_took, 3500ms) << "header_timeout did not apply before request_timeout";

  // The idle connection got its answer, then was closed by idle_timeout.
  const std::string idle_answer = read_until_eof(idle, 5s, eof);
  EXPECT_TRUE(idle_answer.starts_with("HTTP/1.1 200")) << idle_answer;
  EXPECT_TRUE(eof) << "an idle keep-alive connection was not closed";

  // By now (> 1 s) the body is still allowed to trickle: no answer yet.
  ASSERT_LT(Clock::now() - t0, 3500ms) << "too slow a machine for this check";
  ASSERT_EQ(push(slow_body, "\"", 1s), 1u);
  char b;
  EXPECT_EQ(::recv(slow_body, &b, 1, MSG_DONTWAIT), -1) << "the body was cut by header_timeout";
  const std::string body_answer = read_until_eof(slow_body, 6s, eof);
  EXPECT_TRUE(body_answer.starts_with("HTTP/1.1 408")) << body_answer;
  EXPECT_NE(body_answer.find("request_timeout"), std::string::npos) << body_answer;
  ::close(slow_head);
  ::close(slow_body);
  ::close(idle);

  HttpClient http(port, 10s);
  auto page = http.get("/metrics");
  ASSERT_TRUE(page) << page.error();
  EXPECT_GE(sample(page->body, limit_series("header_timeout")), 1);
  EXPECT_GE(sample(page->body, limit_series("request_timeout")), 1);
  EXPECT_GE(sample(page->body, limit_series("idle_timeout")), 1);
  EXPECT_TRUE(server->stop());
}

// idle_timeout counts from the end of the last answer, not from the connection's start: a
// client asking every 400 ms for 3 s keeps its one connection with a 1 s idle_timeout.
TEST(HttpBounds, IdleTimeoutSparesAConnectionInUse) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  auto server = start_server(dir, "idle_timeout = \"1s\"\n");
  ASSERT_TRUE(server) << server.error();
  HttpClient http(server->port(), 10s);
  for (int i = 0; i < 8; ++i) {
    auto r = http.get("/healthz");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200);
    std::this_thread::sleep_for(400ms);
  }
  EXPECT_EQ(http.connections_opened(), 1) << "a connection in use was closed as idle";
  // Control: left alone for 2.5 s, the same client has to reconnect.
  std::this_thread::sleep_for(2500ms);
  auto r = http.get("/healthz");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(http.connections_opened(), 2) << "an idle connection was not closed";
  EXPECT_TRUE(server->stop());
}

}  // namespace
}  // namespace ringpost::it
