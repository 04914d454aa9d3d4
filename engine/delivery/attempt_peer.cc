// See attempt_peer.h.
#include "engine/delivery/attempt_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "engine/tls/tls_engine.h"

namespace ringpost::engine {

std::shared_ptr<const AttemptPeer> make_attempt_peer(const sockaddr_storage& addr, std::string host,
                                                     const tls::TlsEngine* tls, bool tls_fallback) {
  auto p = std::make_shared<AttemptPeer>();
  p->tls_fallback = tls_fallback;
  p->mx_host = std::move(host);
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    p->port = ntohs(v4->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    p->port = ntohs(v6->sin6_port);
  }
  p->ip = text;
  if (tls && tls->handshake_done()) {
    p->tls_version = tls->protocol();
    p->tls_cipher = tls->cipher();
  }
  return p;
}

}  // namespace ringpost::engine
