// Where a delivery attempt went: the MX host, the address and port it connected to, and the TLS
// protocol and cipher when STARTTLS was used. Made on the shard that owns the connection, once
// per connection, then immutable and shared read-only (shared_ptr) by every DeliveryEvent that
// connection produces, so the front can write the delivery log without asking the shard.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ringpost::tls {
class TlsEngine;
}

namespace ringpost::engine {

struct AttemptPeer {
  std::string mx_host;      // MX host name or route host, as connected to
  std::string ip;           // "192.0.2.1", "2001:db8::1"
  uint16_t port = 0;
  std::string tls_version;  // "TLSv1.3"; empty when the session was plain text
  std::string tls_cipher;   // "TLS_AES_256_GCM_SHA384"; empty when plain text
  // Plain text because this endpoint's STARTTLS handshake failed a little earlier (RFC 7435
  // opportunistic fallback, Site::open_connection); the delivery log says so.
  bool tls_fallback = false;
};

// One attempt's trace: the connection that carried it and when its transaction began.
struct AttemptTrace {
  std::shared_ptr<const AttemptPeer> peer;  // null: no connection carried it (site failure, admin)
  int64_t started_ms = 0;                   // 0: unknown
};

// `tls`: the connection's engine once its handshake is done, else null.
std::shared_ptr<const AttemptPeer> make_attempt_peer(const sockaddr_storage& addr, std::string host,
                                                     const tls::TlsEngine* tls, bool tls_fallback = false);

}  // namespace ringpost::engine
