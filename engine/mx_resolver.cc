// See mx_resolver.h.
#include "engine/mx_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "engine/destination.h"

namespace ringpost::engine {
namespace {
constexpr int64_t kCacheMs = 5 * 60 * 1000;
}

struct MxResolver::PollOp final : Completion {
  MxResolver* owner;
  ares_socket_t fd;
  int events;
  bool in_flight = false;
  bool dead = false;  // c-ares dropped the socket; free on completion
  void on_complete(int res, uint32_t) override {
    if (dead) {
      delete this;
      return;
    }
    int r = res > 0 && (res & (POLLIN | POLLERR | POLLHUP)) ? fd : ARES_SOCKET_BAD;
    int w = res > 0 && (res & POLLOUT) ? fd : ARES_SOCKET_BAD;
    if (res < 0) r = fd;  // let c-ares read and notice the error itself
    // Still marked in flight while c-ares runs: if it drops this socket inside the call,
    // on_sock_state must not free us under our feet; we free ourselves below instead.
    ares_process_fd(owner->channel_, r, w);
    in_flight = false;
    if (dead) delete this;
    else owner->arm_poll(fd, events);
  }
};

struct MxResolver::Lookup {
  MxResolver* owner;
  std::string domain;
  std::vector<Destination*> waiters;
  std::vector<std::string> hosts;                // in preference order
  std::vector<std::vector<Endpoint>> addresses;  // per host
  std::size_t hosts_pending = 0;
  struct HostQuery {
    Lookup* lookup;
    std::size_t index;
  };
  std::vector<std::unique_ptr<HostQuery>> host_queries;
  smtp::Reply failure;
  bool permanent = false;
};

MxResolver::MxResolver(Ring& ring, const Config& cfg) : ring_(ring), cfg_(cfg) {
  ares_options opts{};
  opts.sock_state_cb = &MxResolver::on_sock_state;
  opts.sock_state_cb_data = this;
  int rc = ares_init_options(&channel_, &opts, ARES_OPT_SOCK_STATE_CB);
  if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("ares_init_options: ") + ares_strerror(rc));
  if (!cfg.dns_servers.empty()) {
    std::string csv;
    for (const HostPort& hp : cfg.dns_servers) {
      if (!csv.empty()) csv += ',';
      csv += hp.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", hp.host, hp.port)
                                                     : fmt::format("{}:{}", hp.host, hp.port);
    }
    ares_set_servers_ports_csv(channel_, csv.c_str());
  }
}

MxResolver::~MxResolver() {
  lookups_.clear();
  for (auto& [fd, op] : polls_) {
    op->dead = true;
    if (!op->in_flight) delete op;
  }
  polls_.clear();
  // Destroying the channel runs pending callbacks with ARES_EDESTRUCTION; lookups_ is empty so
  // they find nothing to notify.
  ares_destroy(channel_);
}

void MxResolver::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<MxResolver*>(data);
  auto it = self->polls_.find(fd);
  if (!readable && !writable) {
    if (it != self->polls_.end()) {
      PollOp* op = it->second;
      self->polls_.erase(it);
      op->dead = true;
      if (op->in_flight) io_uring_prep_poll_remove(self->ring_.sqe_ignored(), reinterpret_cast<uint64_t>(op));
      else delete op;
    }
    return;
  }
  int events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
  if (it == self->polls_.end()) {
    auto* op = new PollOp;
    op->owner = self;
    op->fd = fd;
    op->events = events;
    self->polls_[fd] = op;
    self->arm_poll(fd, events);
  } else {
    it->second->events = events;  // takes effect at the next re-arm
  }
}

void MxResolver::arm_poll(ares_socket_t fd, int events) {
  auto it = polls_.find(fd);
  if (it == polls_.end()) return;
  PollOp* op = it->second;
  op->in_flight = true;
  io_uring_prep_poll_add(ring_.sqe(op), fd, op->events);
}

bool MxResolver::resolve(Destination& d, int64_t now) {
  now_ = now;
  const std::string& domain = d.domain();
  if (auto c = cache_.find(domain); c != cache_.end()) {
    if (c->second.expires_ms > now) {
      d.set_endpoints(c->second.endpoints);
      return true;
    }
    cache_.erase(c);
  }
  auto [it, fresh] = lookups_.try_emplace(domain);
  if (!fresh) {
    if (std::find(it->second->waiters.begin(), it->second->waiters.end(), &d) == it->second->waiters.end())
      it->second->waiters.push_back(&d);
    return false;
  }
  it->second = std::make_unique<Lookup>();
  Lookup& l = *it->second;
  l.owner = this;
  l.domain = domain;
  l.waiters.push_back(&d);
  ares_query(channel_, domain.c_str(), ns_c_in, ns_t_mx, &MxResolver::on_mx, &l);
  return false;
}

void MxResolver::on_mx(void* arg, int status, int, unsigned char* abuf, int alen) {
  if (status == ARES_EDESTRUCTION) return;
  auto& l = *static_cast<Lookup*>(arg);
  MxResolver* self = l.owner;
  if (status == ARES_ENOTFOUND) {
    l.failure = smtp::Reply{550, "5.1.2", fmt::format("domain {} does not exist (NXDOMAIN)", l.domain)};
    l.permanent = true;
    return self->finish(l);
  }
  if (status == ARES_ENODATA) {
    l.hosts.push_back(l.domain);  // RFC 5321 §5.1: no MX → the domain itself is the implicit MX
  } else if (status != ARES_SUCCESS) {
    l.failure = smtp::Reply{451, "4.4.3", fmt::format("MX lookup for {} failed: {}", l.domain, ares_strerror(status))};
    return self->finish(l);
  } else {
    ares_mx_reply* mx = nullptr;
    if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS || !mx) {
      l.hosts.push_back(l.domain);
    } else {
      std::vector<std::pair<unsigned short, std::string>> rows;
      for (ares_mx_reply* m = mx; m; m = m->next) rows.emplace_back(m->priority, m->host ? m->host : "");
      ares_free_data(mx);
      // RFC 7505: a single MX of "." means the domain accepts no mail.
      if (rows.size() == 1 && (rows[0].second.empty() || rows[0].second == ".")) {
        l.failure = smtp::Reply{556, "5.1.10", fmt::format("domain {} accepts no mail (null MX)", l.domain)};
        l.permanent = true;
        return self->finish(l);
      }
      // Equal preferences are shuffled so load spreads over equal MXes (RFC 5321 §5.1).
      static thread_local std::mt19937 rng{std::random_device{}()};
      std::shuffle(rows.begin(), rows.end(), rng);
      std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (auto& r : rows) l.hosts.push_back(r.second);
    }
  }
  l.addresses.resize(l.hosts.size());
  l.hosts_pending = l.hosts.size();
  for (std::size_t i = 0; i < l.hosts.size(); ++i) {
    l.host_queries.push_back(std::make_unique<Lookup::HostQuery>(Lookup::HostQuery{&l, i}));
    ares_gethostbyname(self->channel_, l.hosts[i].c_str(), AF_INET, &MxResolver::on_host, l.host_queries.back().get());
  }
}

void MxResolver::on_host(void* arg, int status, int, hostent* host) {
  if (status == ARES_EDESTRUCTION) return;
  auto* q = static_cast<Lookup::HostQuery*>(arg);
  auto& l = *q->lookup;
  MxResolver* self = l.owner;
  std::size_t i = q->index;
  if (status == ARES_SUCCESS && host) {
    for (char** a = host->h_addr_list; a && *a; ++a) {
      Endpoint ep;
      auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(self->cfg_.policy_for(l.domain).mx_port);
      std::memcpy(&v4->sin_addr, *a, sizeof v4->sin_addr);
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      ep.len = sizeof(sockaddr_in);
      // The MX target name, not the canonical name a CNAME led to: that is the name TLS
      // verification (MTA-STS, RFC 8461 §4.1) checks the certificate against.
      ep.host = i < l.hosts.size() ? l.hosts[i] : std::string(host->h_name ? host->h_name : "");
      ep.label = fmt::format("{}[{}]:{}", ep.host, text, ntohs(v4->sin_port));
      if (i < l.addresses.size()) l.addresses[i].push_back(std::move(ep));
    }
  }
  if (--l.hosts_pending == 0) {
    bool any = std::any_of(l.addresses.begin(), l.addresses.end(), [](auto& v) { return !v.empty(); });
    if (!any) l.failure = smtp::Reply{451, "4.4.4", fmt::format("no address found for the MX hosts of {}", l.domain)};
    self->finish(l);
  }
}

void MxResolver::finish(Lookup& l) {
  std::vector<Endpoint> eps;
  for (auto& v : l.addresses)
    for (auto& e : v) eps.push_back(e);
  auto owned = std::move(lookups_[l.domain]);
  lookups_.erase(l.domain);
  if (!eps.empty()) {
    cache_[l.domain] = CacheEntry{eps, now_ + kCacheMs};
    for (Destination* d : l.waiters) d->set_endpoints(eps);
  } else {
    for (Destination* d : l.waiters) d->fail_route(l.failure, now_);
  }
}

void MxResolver::tick(int64_t now) {
  now_ = now;
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

}  // namespace ringpost::engine
