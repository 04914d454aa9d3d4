// Blocking c-ares calls for the harness tests; see cares_client.h.
#include "tests/dns_support/cares_client.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>

#include <cstring>

#include <gtest/gtest.h>

namespace ringpost::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string address_text(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, addr, buf, sizeof(buf));
  return buf;
}

}  // namespace

CaresClient::CaresClient(Options options) : options_(std::move(options)) {
  ares_library_init(ARES_LIB_INIT_ALL);  // reference counted; paired in the destructor
  ares_options o{};
  o.timeout = static_cast<int>(options_.timeout.count());
  o.tries = options_.tries;
  // No search list and ndots 1: every name is tried as given, never with the host's resolv.conf
  // domains appended (which would send other names to the server and change the status).
  o.ndots = 1;
  o.ndomains = 0;
  o.domains = nullptr;
  // DNS only: /etc/hosts must not answer for a test name.
  char lookups[] = "b";
  o.lookups = lookups;
  const int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
  if (int rc = ares_init_options(&channel_, &o, mask); rc != ARES_SUCCESS) {
    ADD_FAILURE() << "ares_init_options: " << ares_strerror(rc);
    channel_ = nullptr;
    return;
  }
  if (int rc = ares_set_servers_ports_csv(channel_, options_.servers.c_str()); rc != ARES_SUCCESS) {
    ADD_FAILURE() << "ares_set_servers_ports_csv(" << options_.servers << "): " << ares_strerror(rc);
  }
}

CaresClient::~CaresClient() {
  if (channel_ != nullptr) ares_destroy(channel_);
  ares_library_cleanup();
}

void CaresClient::run(const bool* done) {
  // c-ares bounds each query by timeout x tries (doubling per round); this limit is only a
  // guard so a c-ares surprise fails the test instead of hanging it.
  const auto hard_limit = options_.timeout * (1 << options_.tries) + std::chrono::seconds(5);
  const auto deadline = Clock::now() + hard_limit;
  while (!*done) {
    if (Clock::now() >= deadline) {
      ADD_FAILURE() << "c-ares query still pending after " << hard_limit.count() << " ms; cancelling";
      ares_cancel(channel_);  // runs the callback with ARES_ECANCELLED
      return;
    }
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const bool r = ARES_GETSOCK_READABLE(bits, i);
      const bool w = ARES_GETSOCK_WRITABLE(bits, i);
      if (!r && !w) break;
      fds[n++] = pollfd{socks[i], static_cast<short>((r ? POLLIN : 0) | (w ? POLLOUT : 0)), 0};
    }
    timeval max{0, 100'000};
    timeval tv{};
    const timeval* wait = ares_timeout(channel_, &max, &tv);
    const int ms = static_cast<int>(wait->tv_sec * 1000 + wait->tv_usec / 1000);
    const int ready = ::poll(fds, n, ms);
    if (ready <= 0) {
      // Nothing readable: let c-ares expire timed-out queries and retry them.
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      continue;
    }
    for (nfds_t i = 0; i < n; ++i) {
      const bool r = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
      const bool w = fds[i].revents & POLLOUT;
      ares_process_fd(channel_, r ? fds[i].fd : ARES_SOCKET_BAD, w ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

MxAnswer CaresClient::query_mx(const std::string& name) {
  struct Ctx {
    MxAnswer answer;
    bool done = false;
  } ctx;
  if (channel_ == nullptr) return ctx.answer;
  ares_query(
      channel_, name.c_str(), ns_c_in, ns_t_mx,
      [](void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
        auto* c = static_cast<Ctx*>(arg);
        c->done = true;
        c->answer.status = status;
        c->answer.timeouts = timeouts;
        if (status != ARES_SUCCESS) return;
        ares_mx_reply* mx = nullptr;
        c->answer.parse_status = ares_parse_mx_reply(abuf, alen, &mx);
        for (auto* m = mx; m != nullptr; m = m->next) c->answer.hosts.push_back({m->priority, m->host});
        if (mx != nullptr) ares_free_data(mx);
      },
      &ctx);
  run(&ctx.done);
  return ctx.answer;
}

AAnswer CaresClient::query_a(const std::string& name) {
  struct Ctx {
    AAnswer answer;
    bool done = false;
  } ctx;
  if (channel_ == nullptr) return ctx.answer;
  ares_query(
      channel_, name.c_str(), ns_c_in, ns_t_a,
      [](void* arg, int status, int, unsigned char* abuf, int alen) {
        auto* c = static_cast<Ctx*>(arg);
        c->done = true;
        c->answer.status = status;
        if (status != ARES_SUCCESS) return;
        ares_addrttl ttls[16];
        int count = 16;
        hostent* host = nullptr;
        c->answer.parse_status = ares_parse_a_reply(abuf, alen, &host, ttls, &count);
        if (host != nullptr) ares_free_hostent(host);
        if (c->answer.parse_status != ARES_SUCCESS) return;
        for (int i = 0; i < count; ++i) {
          c->answer.addresses.push_back({address_text(AF_INET, &ttls[i].ipaddr), ttls[i].ttl});
        }
      },
      &ctx);
  run(&ctx.done);
  return ctx.answer;
}

HostAnswer CaresClient::gethostbyname(const std::string& name, int family) {
  struct Ctx {
    HostAnswer answer;
    bool done = false;
  } ctx;
  if (channel_ == nullptr) return ctx.answer;
  ares_gethostbyname(
      channel_, name.c_str(), family,
      [](void* arg, int status, int timeouts, hostent* h) {
        auto* c = static_cast<Ctx*>(arg);
        c->done = true;
        c->answer.status = status;
        c->answer.timeouts = timeouts;
        if (status != ARES_SUCCESS || h == nullptr) return;
        c->answer.name = h->h_name != nullptr ? h->h_name : "";
        for (char** a = h->h_addr_list; *a != nullptr; ++a) {
          c->answer.addresses.push_back(address_text(h->h_addrtype, *a));
        }
      },
      &ctx);
  run(&ctx.done);
  return ctx.answer;
}

AddrInfoAnswer CaresClient::getaddrinfo(const std::string& name, int family) {
  struct Ctx {
    AddrInfoAnswer answer;
    bool done = false;
  } ctx;
  if (channel_ == nullptr) return ctx.answer;
  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_flags = ARES_AI_NOSORT;  // no connect() probes to sort by route; order as served
  ares_getaddrinfo(
      channel_, name.c_str(), nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* ai) {
        auto* c = static_cast<Ctx*>(arg);
        c->done = true;
        c->answer.status = status;
        if (ai == nullptr) return;
        for (auto* cn = ai->cnames; cn != nullptr; cn = cn->next) c->answer.cname_targets.push_back(cn->name);
        for (auto* n = ai->nodes; n != nullptr; n = n->ai_next) {
          if (n->ai_family == AF_INET) {
            c->answer.addresses.push_back(
                address_text(AF_INET, &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr));
          } else if (n->ai_family == AF_INET6) {
            c->answer.addresses.push_back(
                address_text(AF_INET6, &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr));
          }
        }
        ares_freeaddrinfo(ai);
      },
      &ctx);
  run(&ctx.done);
  return ctx.answer;
}

}  // namespace ringpost::testing
