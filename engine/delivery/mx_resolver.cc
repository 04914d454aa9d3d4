// See mx_resolver.h.
#include "engine/delivery/mx_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/dns/dns_answer.h"

namespace ringpost::engine {

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
    else owner->arm_poll(fd);
  }
};

struct MxResolver::Query {
  Lookup* lookup;
  std::size_t host;  // index into Lookup::hosts
  int type;          // ns_t_a / ns_t_aaaa
};

struct MxResolver::Lookup {
  MxResolver* owner;
  std::string domain;
  std::vector<std::string> hosts;  // in the order to try them
  std::vector<uint16_t> preferences;  // parallel to hosts
  std::vector<std::vector<Endpoint>> v4, v6;
  std::vector<std::unique_ptr<Query>> queries;
  std::size_t pending = 0;
  uint32_t ttl = UINT32_MAX;
  bool implicit = false;
};

MxResolver::MxResolver(Ring& ring, const Config& cfg, Done done) : ring_(ring), cfg_(cfg), done_(std::move(done)) {
  ares_options opts{};
  opts.sock_state_cb = &MxResolver::on_sock_state;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(cfg.dns.timeout.count());
  opts.tries = static_cast<int>(cfg.dns.attempts);
  int rc = ares_init_options(&channel_, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("ares_init_options: ") + ares_strerror(rc));
  if (!cfg.dns.servers.empty()) {
    std::string csv;
    for (const HostPort& hp : cfg.dns.servers) {
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
  // Destroying the channel runs pending callbacks with ARES_EDESTRUCTION; they return at once.
  ares_destroy(channel_);
}

void MxResolver::set_socket_functions(const ares_socket_functions* functions, void* data) {
  ares_set_socket_functions(channel_, functions, data);
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
    self->arm_poll(fd);
  } else {
    it->second->events = events;  // takes effect at the next re-arm
  }
}

void MxResolver::arm_poll(ares_socket_t fd) {
  auto it = polls_.find(fd);
  if (it == polls_.end()) return;
  PollOp* op = it->second;
  op->in_flight = true;
  io_uring_prep_poll_add(ring_.sqe(op), fd, op->events);
}

int64_t MxResolver::clamp_ttl(uint32_t ttl_s) const {
  int64_t ms = int64_t(ttl_s) * 1000;
  ms = std::clamp<int64_t>(ms, cfg_.dns.min_ttl.count(), cfg_.dns.max_ttl.count());
  return now_ + ms;
}

void MxResolver::lookup(const std::string& domain, int64_t now) {
  now_ = now;
  // One lookup per name at a time: a second request joins the one in flight (its answer goes to
  // everyone waiting on the name, Shard::on_resolved). Replacing it would free the Lookup that
  // c-ares still holds.
  if (lookups_.contains(domain) || waiting_names_.contains(domain)) return;
  if (!has_room()) {
    waiting_.push_back(domain);
    waiting_names_.insert(domain);
    if (waited_) waited_->add(1);
    return;
  }
  start(domain);
}

void MxResolver::start_waiting() {
  if (starting_) return;
  starting_ = true;
  while (!waiting_.empty() && has_room()) {
    std::string name = std::move(waiting_.front());
    waiting_.pop_front();
    waiting_names_.erase(name);
    start(name);
  }
  starting_ = false;
}

void MxResolver::start(const std::string& domain) {
  auto l = std::make_unique<Lookup>();
  l->owner = this;
  l->domain = domain;
  Lookup* raw = l.get();
  lookups_[domain] = std::move(l);
  ares_query(channel_, domain.c_str(), ns_c_in, ns_t_mx, &MxResolver::on_mx, raw);
}

void MxResolver::fail(Lookup& l, smtp::Reply why, uint32_t ttl_s) {
  Result r;
  r.failure = std::move(why);
  // A bounce-worthy answer (NXDOMAIN, null MX) is clamped like any answer, then capped at
  // [dns] negative_ttl: that is the operator's bound on how long a domain just fixed keeps
  // bouncing, so it wins over min_ttl (the README's example has 30 s under a 60 s min_ttl).
  // Transient failures are remembered only briefly: the next retry should ask again.
  r.expires_ms = r.failure.is_permanent() ? std::min(clamp_ttl(ttl_s), now_ + cfg_.dns.negative_ttl.count())
                                          : now_ + cfg_.dns.min_ttl.count();
  std::string domain = l.domain;
  auto owned = std::move(lookups_[domain]);
  lookups_.erase(domain);
  done_(domain, std::move(r));
  start_waiting();
}

void MxResolver::on_mx(void* arg, int status, int, unsigned char* abuf, int alen) {
  if (status == ARES_EDESTRUCTION) return;
  auto& l = *static_cast<Lookup*>(arg);
  MxResolver* self = l.owner;
  dns::MxAnswer answer;
  if (abuf && alen > 0) answer = dns::parse_mx_answer({abuf, static_cast<std::size_t>(alen)});
  if (status == ARES_ENOTFOUND)
    return self->fail(l, smtp::Reply{550, "5.1.2", fmt::format("domain {} does not exist (NXDOMAIN)", l.domain)}, answer.ttl);
  if (status == ARES_SUCCESS && answer.rcode == dns::Rcode::malformed) status = ARES_EBADRESP;
  if (status != ARES_SUCCESS && status != ARES_ENODATA)
    return self->fail(l, smtp::Reply{451, "4.4.3", fmt::format("MX lookup for {} failed: {}", l.domain, ares_strerror(status))}, 0);
  if (answer.null_mx())  // RFC 7505 §3: the domain accepts no mail
    return self->fail(l, smtp::Reply{556, "5.1.10", fmt::format("domain {} accepts no mail (null MX)", l.domain)}, answer.ttl);

  std::vector<dns::MxRecord> mx;
  for (dns::MxRecord& r : answer.records) {
    // RFC 5321 §5.1: an MX names a host, never an address literal; such records are unusable.
    in6_addr probe;
    if (r.host.empty() || inet_pton(AF_INET, r.host.c_str(), &probe) == 1 || inet_pton(AF_INET6, r.host.c_str(), &probe) == 1)
      continue;
    mx.push_back(std::move(r));
  }
  if (answer.records.empty()) {
    // RFC 5321 §5.1: no MX records → the domain itself is the implicit MX. (A CNAME to a name
    // without MX also lands here: c-ares then reports success with no MX records.)
    l.implicit = true;
    l.hosts.push_back(l.domain);
    l.preferences.push_back(0);
  } else if (mx.empty()) {
    return self->fail(l, smtp::Reply{451, "4.4.4", fmt::format("the MX records of {} name no usable host", l.domain)}, 0);
  } else {
    // Equal preferences are shuffled so load spreads over equal MXes (RFC 5321 §5.1).
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::shuffle(mx.begin(), mx.end(), rng);
    std::stable_sort(mx.begin(), mx.end(), [](auto& a, auto& b) { return a.preference < b.preference; });
    for (auto& r : mx)
      if (std::find(l.hosts.begin(), l.hosts.end(), r.host) == l.hosts.end()) {
        l.hosts.push_back(r.host);
        l.preferences.push_back(r.preference);
      }
    l.ttl = answer.ttl;
  }
  self->resolve_hosts(l);
}

void MxResolver::resolve_hosts(Lookup& l) {
  l.v4.assign(l.hosts.size(), {});
  l.v6.assign(l.hosts.size(), {});
  l.pending = l.hosts.size() * 2;
  for (std::size_t i = 0; i < l.hosts.size(); ++i)
    for (int type : {ns_t_a, ns_t_aaaa}) l.queries.push_back(std::make_unique<Query>(Query{&l, i, type}));
  // c-ares may answer synchronously (e.g. a bad name), and the last answer frees the lookup:
  // work from copies so nothing of l is touched after the final ares_query call.
  std::vector<std::pair<std::string, Query*>> to_send;
  for (auto& q : l.queries) to_send.emplace_back(l.hosts[q->host], q.get());
  for (auto& [host, q] : to_send) ares_query(channel_, host.c_str(), ns_c_in, q->type, &MxResolver::on_address, q);
}

void MxResolver::on_address(void* arg, int status, int, unsigned char* abuf, int alen) {
  if (status == ARES_EDESTRUCTION) return;
  auto* q = static_cast<Query*>(arg);
  Lookup& l = *q->lookup;
  MxResolver* self = l.owner;
  if (status == ARES_SUCCESS && abuf && alen > 0) {
    dns::AddressAnswer a = dns::parse_address_answer({abuf, static_cast<std::size_t>(alen)}, q->type);
    uint16_t port = self->cfg_.policy_for(l.domain).mx_port;
    const std::string& host = l.hosts[q->host];
    // The MX target name, not a CNAME's canonical name: that is the name TLS verification
    // (MTA-STS, RFC 8461 §4.1) checks the certificate against.
    for (const in_addr& addr : a.v4) l.v4[q->host].push_back(make_endpoint(AF_INET, &addr, port, host, true));
    for (const in6_addr& addr : a.v6) l.v6[q->host].push_back(make_endpoint(AF_INET6, &addr, port, host, true));
    if (!a.v4.empty() || !a.v6.empty()) l.ttl = std::min(l.ttl, a.ttl);
  }
  if (--l.pending == 0) self->finish(l);
}

void MxResolver::finish(Lookup& l) {
  auto route = std::make_shared<Route>();
  bool v6_first = cfg_.dns.prefer_ipv6;
  for (std::size_t i = 0; i < l.hosts.size(); ++i) {
    auto& first = v6_first ? l.v6[i] : l.v4[i];
    auto& second = v6_first ? l.v4[i] : l.v6[i];
    for (auto& e : first) route->endpoints.push_back(e);
    for (auto& e : second) route->endpoints.push_back(e);
  }
  for (std::size_t i = 0, k = 0; i < l.hosts.size(); ++i)
    for (std::size_t n = l.v4[i].size() + l.v6[i].size(); n > 0; --n) route->endpoints[k++].preference = l.preferences[i];
  if (route->endpoints.empty())
    return fail(l, smtp::Reply{451, "4.4.4", fmt::format("no address found for the mail hosts of {}", l.domain)}, 0);
  // The site key is the MX host set by preference group ("mx:10=a,b;20=c"): domains with the
  // same MX records share a pool, while two domains that list the same hosts in opposite
  // preference orders do not (one site serves one order of trying the hosts).
  std::map<uint16_t, std::set<std::string>> groups;
  for (std::size_t i = 0; i < l.hosts.size(); ++i) groups[l.preferences[i]].insert(l.hosts[i]);
  route->site = "mx:";
  for (const auto& [pref, hosts] : groups) {
    if (route->site.size() > 3) route->site += ';';
    route->site += fmt::format("{}=", pref);
    bool first_host = true;
    for (const std::string& h : hosts) {
      if (!first_host) route->site += ',';
      first_host = false;
      route->site += h;
    }
  }
  route->expires_ms = clamp_ttl(l.ttl == UINT32_MAX ? 0 : l.ttl);
  Result r;
  r.expires_ms = route->expires_ms;
  r.route = std::move(route);
  std::string domain = l.domain;
  auto owned = std::move(lookups_[domain]);
  lookups_.erase(domain);
  done_(domain, std::move(r));
  start_waiting();
}

void MxResolver::tick(int64_t now) {
  now_ = now;
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

}  // namespace ringpost::engine
