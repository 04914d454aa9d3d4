// See security_fixture.h. The raw client here writes bytes exactly as given (duplicate headers,
// trailers, smuggling attempts) and can bind a source address, which the test clients of
// tests/integration cannot.
#include "tests/security/security_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "tests/integration/free_port.h"
#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/wait.h"

namespace ringpost::security_test {
namespace {

using namespace std::chrono_literals;

struct Shared {
  std::unique_ptr<it::TempDir> dir;
  std::optional<it::SmtpSink> sink;
  std::optional<it::RingpostServer> server;
  bool skipped = false;
};
Shared& shared() {
  static Shared s;
  return s;
}

std::string sha256_hex(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  std::string out;
  for (unsigned char b : d) out += fmt::format("{:02x}", b);
  return out;
}

std::string key_toml(std::string_view name, std::string_view token, std::string_view allowed, std::string_view role) {
  return fmt::format("[[keys]]\nname = \"{}\"\nsha256 = \"{}\"\n{}role = \"{}\"\n\n", name, sha256_hex(token),
                     allowed.empty() ? std::string() : fmt::format("allowed_from = [{}]\n", allowed), role);
}

}  // namespace

RawResponse exchange(uint16_t port, std::string_view bytes, std::string_view source) {
  RawResponse r;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, std::string(source).c_str(), &src.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return r;
  }
  for (std::size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before taking everything
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::size_t header_end = std::string::npos, body_len = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (header_end != std::string::npos && in.size() >= header_end + 4 + body_len) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      break;
    }
    in.append(buf, static_cast<std::size_t>(n));
    if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      const std::string head = in.substr(0, header_end);
      const std::size_t cl = head.find("Content-Length: ");
      if (cl != std::string::npos) body_len = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
    }
  }
  if (header_end != std::string::npos) {
    r.headers = in.substr(0, header_end);
    if (in.size() > 12) r.status = std::atoi(in.c_str() + 9);
    r.body = in.substr(header_end + 4, body_len);
    if (r.headers.find("Connection: close") != std::string::npos) {
      // Read to EOF: the server promised to close.
      pollfd p{fd, POLLIN, 0};
      char buf[4096];
      while (::poll(&p, 1, 2000) > 0 && ::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      r.closed = true;
    }
  }
  ::close(fd);
  return r;
}

std::string post(std::string_view path, std::string_view body, std::string_view headers, std::string_view content_type) {
  return fmt::format("POST {} HTTP/1.1\r\nHost: t\r\n{}{}Content-Length: {}\r\n\r\n{}", path, headers,
                     content_type.empty() ? std::string() : fmt::format("Content-Type: {}\r\n", content_type),
                     body.size(), body);
}

std::string get(std::string_view path, std::string_view headers) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: t\r\n{}\r\n", path, headers);
}

std::string auth(std::string_view token) { return fmt::format("Authorization: Bearer {}\r\n", token); }

std::string error_code(std::string_view body) { return it::error_code_of(body).value_or(""); }

void SecurityServer::SetUpTestSuite() {
  Shared& s = shared();
  if (it::ringpost_binary().empty() || !std::filesystem::exists(it::ringpost_binary())) {
    s.skipped = true;
    return;
  }
  s.dir = std::make_unique<it::TempDir>();
  const auto& d = s.dir->path();
  // An Ed25519 DKIM key for other-tenant.test, made by the openssl command line.
  const std::string key = (d / "other.pem").string();
  ASSERT_EQ(std::system(fmt::format("/usr/bin/openssl genpkey -algorithm ed25519 -out {} 2>/dev/null", key).c_str()), 0);
  auto ports = it::pick_free_ports(2);
  ASSERT_TRUE(ports);
  auto sink = it::SmtpSink::start(d / "sink", (*ports)[1]);
  ASSERT_TRUE(sink) << sink.error();
  s.sink.emplace(std::move(*sink));
  it::ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.domains.push_back({"sink.test", fmt::format("127.0.0.1:{}", s.sink->port())});
  cfg.server_toml = fmt::format("admin_token = \"{}\"\n", kAdminToken);
  cfg.extra_toml = key_toml("alpha", kAlpha, "\"example.test\", \"*.agents.example.test\"", "submit") +
                   key_toml("beta", kBeta, "\"other-tenant.test\"", "submit") +
                   key_toml("subonly", kSubOnly, "\"*.other-tenant.test\"", "submit") +
                   key_toml("ops", kAdmin, "", "admin") +
                   // Signs From other-tenant.test and its sub-domains with d=other-tenant.test.
                   fmt::format("[[dkim.\"other-tenant.test\"]]\nselector = \"s1\"\nkey_file = \"{}\"\n"
                               "algorithm = \"ed25519-sha256\"\nsubdomains = true\n\n",
                               key) +
                   "[api]\nmax_recipients_per_message = 10\nmax_batch_messages = 5\nmax_message_bytes = 65536\n\n"
                   // Many cases fail authentication on purpose; the throttle has its own test.
                   "[limits]\nauth_failures_per_minute = 100000\n";
  auto r = it::RingpostServer::start(d, cfg);
  ASSERT_TRUE(r) << r.error();
  s.server.emplace(std::move(*r));
}

void SecurityServer::TearDownTestSuite() {
  Shared& s = shared();
  s.server.reset();
  s.sink.reset();
  s.dir.reset();
}

void SecurityServer::SetUp() {
  if (shared().skipped) GTEST_SKIP() << "no `ringpost` binary";
  ASSERT_TRUE(shared().server) << "the server did not start";
}

uint16_t SecurityServer::port() { return shared().server->port(); }
it::SmtpSink& SecurityServer::sink() { return *shared().sink; }
const std::filesystem::path& SecurityServer::dir() { return shared().dir->path(); }

int64_t SecurityServer::recipients_accepted() {
  const RawResponse r = exchange(port(), get("/v1/stats", auth(kAdmin)));
  EXPECT_EQ(r.status, 200) << r.body;
  auto stats = it::parse_stats(r.body);
  EXPECT_TRUE(stats) << r.body;
  return stats ? stats->total() : -1;
}

void SecurityServer::expect_refused(std::string_view request, int status, std::string_view code) {
  const int64_t before = recipients_accepted();
  const RawResponse r = exchange(port(), request);
  EXPECT_EQ(r.status, status) << r.headers << "\n" << r.body;
  EXPECT_EQ(error_code(r.body), code) << r.body;
  EXPECT_EQ(recipients_accepted(), before) << "a refused request spooled something";
  const RawResponse next = exchange(port(), get("/healthz", ""));
  EXPECT_EQ(next.status, 200) << "the server does not serve the next request";
}

}  // namespace ringpost::security_test
