// See session_cache.h.
#include "engine/tls/session_cache.h"

#include <ctime>

#include <fmt/format.h>

namespace ringpost::tls {

SessionCache::SessionCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

std::string SessionCache::key(std::string_view host, uint16_t port) { return fmt::format("{}:{}", host, port); }

SessionPtr SessionCache::get(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  SSL_SESSION* s = it->second->session.get();
  // SSL_SESSION_get_time() is seconds since the epoch from time(), so compare with time().
  const int64_t expires = static_cast<int64_t>(SSL_SESSION_get_time(s)) + SSL_SESSION_get_timeout(s);
  if (expires <= static_cast<int64_t>(std::time(nullptr)) || !SSL_SESSION_is_resumable(s)) {
    lru_.erase(it->second);
    map_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  // A copy, never the cached object: OpenSSL marks the session of a connection that ends
  // without close_notify (or with a fatal alert) not resumable, in place, when it frees the
  // SSL; a shared object would spoil the cache for every later connection.
  return SessionPtr(SSL_SESSION_dup(s));
}

void SessionCache::put(const std::string& key, SessionPtr s) {
  if (!s || !SSL_SESSION_is_resumable(s.get())) return;
  s = SessionPtr(SSL_SESSION_dup(s.get()));  // see get(): the live SSL must not share it
  if (!s) return;
  if (auto it = map_.find(key); it != map_.end()) {
    it->second->session = std::move(s);  // frees the old reference
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, std::move(s)});
  map_.emplace(key, lru_.begin());
  if (map_.size() > capacity_) {
    map_.erase(lru_.back().key);
    lru_.pop_back();  // frees the evicted reference
  }
}

void SessionCache::erase(const std::string& key) {
  if (auto it = map_.find(key); it != map_.end()) {
    lru_.erase(it->second);
    map_.erase(it);
  }
}

}  // namespace ringpost::tls
