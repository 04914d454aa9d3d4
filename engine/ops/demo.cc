// See demo.h. The sink is Postfix's smtp-sink (installed by the README's first command): a real
// SMTP server on loopback that accepts everything, so the demo exercises the same path as
// production delivery. Counting happens on the engine side here; the integration tests count on
// the sink's side.
#include "engine/ops/demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/ops/blocking_http_client.h"
#include "engine/runtime/engine.h"
#include "engine/ops/progress.h"

namespace ringpost::engine {
namespace {

constexpr const char* kSinkPath = "/usr/sbin/smtp-sink";
constexpr const char* kDemoDomain = "demo.test";

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

pid_t start_sink(uint16_t port) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string listen = fmt::format("127.0.0.1:{}", port);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    // smtp-sink refuses to run as root without a user to drop to.
    if (::getuid() == 0)
      ::execl(kSinkPath, "smtp-sink", "-u", "nobody", "-h", "sink.demo.test", listen.c_str(), "1024", nullptr);
    else
      ::execl(kSinkPath, "smtp-sink", "-h", "sink.demo.test", listen.c_str(), "1024", nullptr);
    ::_exit(127);
  }
  return pid;
}

std::string demo_batch(uint32_t first, uint32_t count) {
  std::string body = "{\"messages\":[";
  for (uint32_t i = 0; i < count; ++i) {
    if (i) body += ',';
    body += fmt::format(
        R"({{"from":"agent@ringpost.example","to":["user{}@{}"],"subject":"ringpost demo #{}","text":"Hello from ringpost, message {}.\n"}})",
        first + i, kDemoDomain, first + i, first + i);
  }
  body += "]}";
  return body;
}

int64_t json_int(simdjson::dom::element e, std::string_view a, std::string_view b = {}) {
  auto v = b.empty() ? e[a] : e[a][b];
  int64_t out = 0;
  if (v.get(out) != simdjson::SUCCESS) return -1;
  return out;
}

// Progress goes to stderr (stdout keeps the report): on a terminal one line rewritten in
// place, otherwise a line each time, so a log or a test sees every one.
void show_progress(const std::string& line, bool last) {
  static const bool tty = ::isatty(2) == 1;
  if (tty) fmt::print(stderr, "\r{}{}", line, last ? "\n" : "");
  else fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

}  // namespace

int run_demo(Config cfg, const DemoOptions& opts) {
  HostPort target{"127.0.0.1", 0};
  pid_t sink = -1;
  if (!opts.route.empty()) {
    auto hp = parse_host_port(opts.route);
    if (!hp) {
      fmt::print(stderr, "demo: --route: {}\n", hp.error());
      return 2;
    }
    target = *hp;
  } else {
    if (::access(kSinkPath, X_OK) != 0) {
      fmt::print(stderr, "demo: {} not found; install Postfix (the README's first command does)\n", kSinkPath);
      return 1;
    }
    target.port = free_port();
    sink = start_sink(target.port);
    for (int i = 0; i < 100 && !port_open(target.port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stop_sink = [&] {
    if (sink <= 0) return;
    ::kill(sink, SIGTERM);
    ::waitpid(sink, nullptr, 0);
  };

  // A fresh spool so earlier demo runs are not redelivered; the HTTP port is chosen by the
  // kernel so the demo runs beside a real server.
  cfg.spool_dir = "./var/demo-spool";
  std::filesystem::remove_all(cfg.spool_dir);
  cfg.http_listen = "127.0.0.1:0";
  DeliveryPolicy route = cfg.policy_for(kDemoDomain);
  route.route = target;
  cfg.domains[kDemoDomain] = route;

  Engine engine(cfg);
  if (auto r = engine.start(); !r) {
    fmt::print(stderr, "demo: {}\n", r.error());
    stop_sink();
    return 1;
  }
  fmt::print("ringpost demo: {} shards, HTTP on 127.0.0.1:{}, {} on {}:{} as the route for {}\n", cfg.shard_count(),
             engine.http_port(), sink > 0 ? "smtp-sink" : "SMTP server", target.host, target.port, kDemoDomain);

  BlockingHttpClient http("127.0.0.1", engine.http_port());
  simdjson::dom::parser json;
  auto start = std::chrono::steady_clock::now();
  std::string sample_id;
  int rc = 0;
  ProgressMeter submit_meter("submitted", opts.messages, start);
  for (uint32_t sent = 0; sent < opts.messages;) {
    uint32_t n = std::min<uint32_t>(1000, opts.messages - sent);
    auto resp = http.request("POST", "/v1/messages/batch", demo_batch(sent, n));
    if (!resp || resp->status != 202) {
      fmt::print(stderr, "demo: batch submit failed: {}\n", resp ? resp->body : resp.error());
      rc = 1;
      break;
    }
    if (sample_id.empty()) {
      std::string_view id;
      if (json.parse(resp->body)["ids"].at(0).get(id) == simdjson::SUCCESS) sample_id = id;
    }
    sent += n;
    if (auto line = submit_meter.tick(sent, std::chrono::steady_clock::now())) show_progress(*line, false);
  }
  auto submitted = std::chrono::steady_clock::now();
  fmt::print("submitted {} messages in {} batches of up to 1000 ({:.0f} ms, all spooled before each 202)\n",
             opts.messages, (opts.messages + 999) / 1000,
             std::chrono::duration<double, std::milli>(submitted - start).count());

  int64_t delivered = 0, opened = 0, transactions = 0, failed = 0;
  auto deadline = start + std::chrono::minutes(5);
  ProgressMeter deliver_meter("delivered", opts.messages, start);
  while (rc == 0 && std::chrono::steady_clock::now() < deadline) {
    auto resp = http.request("GET", "/v1/stats");
    if (resp && resp->status == 200) {
      simdjson::dom::element stats = json.parse(resp->body);
      delivered = json_int(stats, "recipients", "delivered");
      failed = json_int(stats, "recipients", "bounced") + json_int(stats, "recipients", "expired");
      opened = json_int(stats, "connections_opened");
      transactions = json_int(stats, "transactions");
      if (delivered + failed >= opts.messages) break;
      if (auto line = deliver_meter.tick(delivered, std::chrono::steady_clock::now())) show_progress(*line, false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  show_progress(deliver_meter.finish(std::max<int64_t>(delivered, 0), std::chrono::steady_clock::now()), true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("delivered {} of {} messages in {:.2f} s: {:.0f} msgs/s end to end (submit + spool + SMTP)\n", delivered,
             opts.messages, secs, delivered / secs);
  fmt::print("connections opened: {}; messages per connection: {:.1f}; bounced or expired: {}\n", opened,
             opened ? double(transactions) / double(opened) : 0.0, failed);
  if (!sample_id.empty()) {
    auto resp = http.request("GET", "/v1/messages/" + sample_id);
    if (resp) fmt::print("sample status: GET /v1/messages/{}\n{}\n", sample_id, resp->body);
  }
  engine.stop();
  stop_sink();
  if (delivered != opts.messages) {
    fmt::print(stderr, "demo: not every message was delivered\n");
    return 1;
  }
  return rc;
}

}  // namespace ringpost::engine
