// TLS session resumption cache for outbound connections, one per shard (and per ClientContext,
// see below); single-threaded, no locks. Bounded LRU of SSL_SESSION references keyed by
// "host:port". Invariant: every stored session is resumable and holds exactly one reference,
// released on replacement, eviction, expiry or destruction.
//
// Keys: a session remembers the verification its full handshake did, and resuming it skips
// verification. So a session from an opportunistic (unverified) connection must never be
// offered on a connection that enforces verification: keep one SessionCache per ClientContext,
// or qualify the key with the TLS policy (Postfix does the latter in its scache keys).
//
// Filling it (RFC 8446 §4.6.1): TLS 1.2 sessions exist when the handshake ends; TLS 1.3
// tickets arrive after it, as post-handshake messages that OpenSSL processes inside
// SSL_read. The engine captures them through SSL_CTX_sess_set_new_cb (installed by
// ClientContext); the driver moves them here with TlsEngine::take_new_session() after each
// handshake()/read(). put() replaces, so the newest ticket wins.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/tls/ssl_ptr.h"

namespace ringpost::tls {

class SessionCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 1024;

  explicit SessionCache(std::size_t capacity = kDefaultCapacity);
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  static std::string key(std::string_view host, uint16_t port);  // "mx.example:25"

  // A new reference to the session for `key`, or nullptr. Marks the entry most recently used.
  // Drops (and returns nullptr for) an entry past its lifetime (SSL_SESSION_get_time + timeout,
  // wall-clock seconds, OpenSSL's own clock for sessions): the server would refuse it anyway
  // and the attempt costs a full handshake plus a ticket slot.
  SessionPtr get(const std::string& key);
  // Stores `s` (ownership moves in) for `key`, replacing any previous one. Non-resumable or
  // null sessions are ignored. Evicts the least recently used entry beyond capacity.
  void put(const std::string& key, SessionPtr s);
  // E.g. after a resumed handshake failed: do not offer that session again.
  void erase(const std::string& key);

  std::size_t size() const { return map_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    SessionPtr session;
  };
  using List = std::list<Entry>;  // front = most recently used

  std::size_t capacity_;
  List lru_;
  std::unordered_map<std::string, List::iterator> map_;
};

}  // namespace ringpost::tls
