// The HTTP API's error answers: the right status, a JSON body {"error":{"code":...}}, and
// nothing accepted when a request (or any item of a batch) is rejected.
#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/http_client.h"
#include "tests/integration/paths.h"
#include "tests/integration/temp_dir.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class HttpApi : public ServerTest {};

// Each check gets its own connection: a server may rightly close after an error, and one
// check's fallout must not be blamed on the next.
HttpResponse call(uint16_t port, std::string_view method, std::string_view target, std::string_view body,
                  std::string_view content_type) {
  HttpClient http(port, 30s);
  auto r = http.request(method, target, body, content_type);
  EXPECT_TRUE(r) << method << " " << target << ": " << r.error();
  return r ? *r : HttpResponse{};
}

void expect_json_error(const HttpResponse& r, int status, std::string_view what) {
  EXPECT_EQ(r.status, status) << what << "; body: " << r.body;
  EXPECT_TRUE(error_code_of(r.body).has_value()) << what << ": body is not {\"error\":{\"code\":...}}: " << r.body;
  EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos)
      << what << ": Content-Type " << r.header("content-type");
}

TEST_F(HttpApi, ErrorsAreJson) {
  auto ports = pick_free_ports(2);
  ASSERT_TRUE(ports);
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  // Deliveries are not the point here; route to a port nobody listens on.
  cfg.domains = {{"sink.test", fmt::format("127.0.0.1:{}", (*ports)[1])}};
  auto server = RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  const uint16_t port = server->port();
  RingpostApi api(port);
  const std::string good = R"({"from":"a@x.test","to":["b@sink.test"],"subject":"s","text":"t"})";

  auto health = call(port, "GET", "/healthz", {}, {});
  EXPECT_EQ(health.status, 200);

  expect_json_error(call(port, "POST", "/v1/messages", R"({"from":"a@x.test","to":[)", "application/json"), 400,
                    "truncated JSON");
  expect_json_error(call(port, "GET", "/v1/messages/no-such-message-id", {}, {}), 404, "unknown id");
  expect_json_error(call(port, "PUT", "/v1/messages", good, "application/json"), 405, "PUT /v1/messages");
  expect_json_error(call(port, "POST", "/v1/stats", good, "application/json"), 405, "POST /v1/stats");
  expect_json_error(call(port, "POST", "/v1/messages", good, "text/plain"), 415, "text/plain body");

  // 39 MiB of otherwise valid JSON, over the default max_request_bytes (38.5 MiB): only the
  // size is wrong.
  std::string huge = fmt::format(R"({{"from":"a@x.test","to":["b@sink.test"],"subject":"s","text":"{}"}})",
                                 std::string(39u << 20, 'x'));
  expect_json_error(call(port, "POST", "/v1/messages", huge, "application/json"), 413, "39 MiB body");

  auto before = api.stats();
  ASSERT_TRUE(before) << before.error();
  EXPECT_EQ(before->total(), 0) << "a rejected request was accepted";

  // Items 1, 3 and 4 are bad (no "from"; no recipients; not an object); 0 and 2 are fine.
  // (A bare string "to" is not used as a bad item: the API accepts it as one recipient.)
  const std::string batch = std::string(R"({"messages":[)") + good + "," +
                            R"({"to":["c@sink.test"],"subject":"s","text":"t"},)" + good + "," +
                            R"({"from":"a@x.test","to":[],"subject":"s","text":"t"},)" + "42]}";
  auto bad = call(port, "POST", "/v1/messages/batch", batch, "application/json");
  expect_json_error(bad, 400, "batch with bad items");
  auto idx = index_values_in(bad.body);
  EXPECT_EQ(std::set<int64_t>(idx.begin(), idx.end()), (std::set<int64_t>{1, 3, 4}))
      << "bad indexes listed in " << bad.body;

  auto after = api.stats();
  ASSERT_TRUE(after) << after.error();
  EXPECT_EQ(after->total(), before->total()) << "a rejected batch accepted some items";

  // Control: the same server does accept a good message, so "unchanged" above means something.
  auto ok = call(port, "POST", "/v1/messages", good, "application/json");
  EXPECT_EQ(ok.status, 202) << ok.body;
  auto end = api.stats();
  ASSERT_TRUE(end) << end.error();
  EXPECT_EQ(end->total(), before->total() + 1);
}

}  // namespace
}  // namespace ringpost::it

namespace ringpost::it {
namespace {

// Slow loris: a client trickling header bytes gets 408 and is closed after request_timeout,
// while another client is served the whole time.
TEST(HttpSlowClients, ATricklingClientGets408AndOthersAreServed) {
  if (ringpost_binary().empty()) GTEST_SKIP() << "no ringpost binary";
  TempDir dir;
  auto ports = pick_free_ports(1);
  ASSERT_TRUE(ports);
  ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.extra_toml = "";
  cfg.defaults_toml = "";
  // request_timeout lives in [server]: appended through the rendered file.
  auto server = RingpostServer::start(dir.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  ServerConfig fast = server->config();
  ASSERT_TRUE(server->stop());
  std::string toml = render_toml(fast);
  toml.replace(toml.find("[server]\n"), 9, "[server]\nrequest_timeout = \"1s\"\n");
  std::ofstream(dir.path() / "ringpost.toml") << toml;
  auto restarted = server->restart();
  ASSERT_TRUE(restarted) << restarted.error();

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  HttpClient other(server->port());
  std::string answer;
  // One byte every 200 ms: never a whole request. Meanwhile the other client is answered.
  for (int i = 0; i < 15 && answer.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::send(fd, "a", 1, MSG_NOSIGNAL) != 1) break;
    auto h = other.get("/healthz");
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(h->status, 200);
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) answer.assign(buf, static_cast<std::size_t>(n));
  }
  if (answer.empty()) {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) answer.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 408")) << "got: " << answer;
  EXPECT_NE(answer.find("request_timeout"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
}

}  // namespace
}  // namespace ringpost::it
