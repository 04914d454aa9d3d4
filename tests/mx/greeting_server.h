// A TCP server on ip:port that answers every connection with one fixed SMTP greeting (say
// "421 4.3.2 busy") and then only QUIT: the far side of "this MX refuses service at the
// greeting" for tests/mx. One thread accepts and serves connections one at a time; every wait
// is bounded (poll timeouts), and the destructor stops and joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <tl/expected.hpp>

namespace ringpost::mx_test {

class GreetingServer {
 public:
  // Listens at once; `greeting` is sent as written plus CRLF.
  static tl::expected<std::unique_ptr<GreetingServer>, std::string> start(const std::string& ip, uint16_t port,
                                                                          std::string greeting);
  GreetingServer(const GreetingServer&) = delete;
  GreetingServer& operator=(const GreetingServer&) = delete;
  ~GreetingServer();

  int connections() const { return connections_.load(); }

 private:
  GreetingServer(int fd, std::string greeting) : fd_(fd), greeting_(std::move(greeting)) {}
  void run();
  void serve(int conn);

  int fd_;
  std::string greeting_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace ringpost::mx_test
