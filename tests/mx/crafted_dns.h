// A UDP DNS responder whose answers the test writes byte by byte: for what no real server
// sends (Knot only serves well-formed zones), e.g. an MX answer whose framing is valid but
// whose later record has a broken compression pointer. One thread on 127.0.0.1:port answers
// each query with respond(query) (no answer if it returns empty); every wait is bounded, and
// the destructor stops and joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::mx_test {

struct DnsQuery {
  uint16_t id = 0;
  std::string name;  // as asked, lower-cased, no trailing dot
  uint16_t type = 0;
};

class CraftedDns {
 public:
  using Responder = std::function<std::vector<unsigned char>(const DnsQuery&)>;

  // Binds a free UDP port on 127.0.0.1. The responder runs on the server thread.
  static tl::expected<std::unique_ptr<CraftedDns>, std::string> start(Responder respond);
  CraftedDns(const CraftedDns&) = delete;
  CraftedDns& operator=(const CraftedDns&) = delete;
  ~CraftedDns();

  uint16_t port() const { return port_; }
  std::string server_spec() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_.load(); }

 private:
  CraftedDns(int fd, uint16_t port, Responder r) : fd_(fd), port_(port), respond_(std::move(r)) {}
  void run();

  int fd_;
  uint16_t port_;
  Responder respond_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

// Parses the header id and the first question of a query; false on anything else.
bool parse_query(const unsigned char* p, std::size_t n, DnsQuery& out);

}  // namespace ringpost::mx_test
