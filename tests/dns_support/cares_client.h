// A blocking c-ares client for the harness tests: one channel whose only server is the test's
// AuthoritativeDns, each call driving the channel (poll + ares_process_fd) until its callback
// runs. Owned by one test thread. Invariant: every call returns within its hard limit; a query
// still pending then is cancelled (ARES_ECANCELLED) and the test fails.
// The raw ares status codes are kept, not mapped: what c-ares returns is what these tests pin.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <ares.h>

namespace ringpost::testing {

struct MxHost {
  uint16_t preference = 0;
  std::string host;  // c-ares gives "" for the root (RFC 7505 null MX "0 .")
  bool operator==(const MxHost&) const = default;
};

struct MxAnswer {
  int status = -1;        // ares_query's status
  int parse_status = -1;  // ares_parse_mx_reply's, when status is ARES_SUCCESS
  int timeouts = 0;
  std::vector<MxHost> hosts;
};

struct AddressTtl {
  std::string address;
  int ttl = 0;
};

struct AAnswer {
  int status = -1;
  int parse_status = -1;
  std::vector<AddressTtl> addresses;
};

struct HostAnswer {
  int status = -1;
  int timeouts = 0;
  std::string name;  // hostent h_name: the canonical name, after CNAMEs
  std::vector<std::string> addresses;
};

struct AddrInfoAnswer {
  int status = -1;
  std::vector<std::string> addresses;
  std::vector<std::string> cname_targets;  // each CNAME's target, in the order c-ares lists them
};

class CaresClient {
 public:
  struct Options {
    std::string servers;  // "127.0.0.1:PORT", as ares_set_servers_ports_csv() takes it
    std::chrono::milliseconds timeout{1000};
    int tries = 2;
  };
  explicit CaresClient(Options options);
  CaresClient(const CaresClient&) = delete;
  CaresClient& operator=(const CaresClient&) = delete;
  ~CaresClient();

  MxAnswer query_mx(const std::string& name);
  AAnswer query_a(const std::string& name);
  HostAnswer gethostbyname(const std::string& name, int family);
  AddrInfoAnswer getaddrinfo(const std::string& name, int family);

 private:
  // Drives the channel until `*done`; cancels what is pending past the hard limit.
  void run(const bool* done);

  Options options_;
  ares_channel channel_ = nullptr;
};

}  // namespace ringpost::testing
