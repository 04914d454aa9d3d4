// SessionCache as a data structure: LRU order, replacement, expiry, references. Sessions are
// synthetic (an id makes OpenSSL call them resumable); leak checks come from LSan builds.
#include "engine/tls/session_cache.h"

#include <gtest/gtest.h>

#include <ctime>

namespace ringpost::tls {
namespace {

SessionPtr make_session(unsigned char id, long age_s = 0, long timeout_s = 300) {
  SessionPtr s(SSL_SESSION_new());
  unsigned char sid[32] = {id};
  EXPECT_EQ(SSL_SESSION_set1_id(s.get(), sid, sizeof sid), 1);
  SSL_SESSION_set_time(s.get(), static_cast<long>(std::time(nullptr)) - age_s);
  SSL_SESSION_set_timeout(s.get(), timeout_s);
  return s;
}

TEST(SessionCache, KeyIsHostColonPort) { EXPECT_EQ(SessionCache::key("mx.test", 25), "mx.test:25"); }

TEST(SessionCache, MissIsNull) {
  SessionCache c;
  EXPECT_FALSE(c.get("mx.test:25"));
  EXPECT_EQ(c.capacity(), SessionCache::kDefaultCapacity);
}

// get() and put() copy: OpenSSL marks a live connection's session not resumable in place when
// that connection ends without close_notify, so the cache must never share its object.
TEST(SessionCache, GetReturnsACopyAndKeepsTheEntry) {
  SessionCache c;
  SessionPtr s = make_session(1);
  SSL_SESSION* raw = s.get();
  SSL_SESSION_up_ref(raw);
  SessionPtr keep(raw);  // keeps the original alive, so its address cannot be reused below
  c.put("a:25", std::move(s));
  SessionPtr g1 = c.get("a:25");
  SessionPtr g2 = c.get("a:25");
  ASSERT_TRUE(g1);
  ASSERT_TRUE(g2);
  EXPECT_NE(g1.get(), raw);
  EXPECT_NE(g1.get(), g2.get());
  unsigned int l1 = 0, l2 = 0;
  EXPECT_EQ(SSL_SESSION_get_id(g1.get(), &l1)[0], 1);
  EXPECT_EQ(SSL_SESSION_get_id(g2.get(), &l2)[0], 1);
  g1.reset();
  g2.reset();  // dropping our references leaves the cache's
  SessionPtr g3 = c.get("a:25");
  ASSERT_TRUE(g3);
  unsigned int len = 0;
  EXPECT_EQ(SSL_SESSION_get_id(g3.get(), &len)[0], 1);
}

TEST(SessionCache, EvictsLeastRecentlyUsed) {
  SessionCache c(2);
  c.put("a", make_session(1));
  c.put("b", make_session(2));
  EXPECT_TRUE(c.get("a"));  // a is now the most recent
  c.put("c", make_session(3));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.get("b"));
  EXPECT_TRUE(c.get("a"));
  EXPECT_TRUE(c.get("c"));
}

TEST(SessionCache, PutReplacesAndRefreshes) {
  SessionCache c(2);
  c.put("a", make_session(1));
  c.put("b", make_session(2));
  c.put("a", make_session(9));  // newer ticket for a; a becomes most recent
  EXPECT_EQ(c.size(), 2u);
  c.put("c", make_session(3));
  EXPECT_FALSE(c.get("b"));
  SessionPtr a = c.get("a");
  ASSERT_TRUE(a);
  unsigned int len = 0;
  EXPECT_EQ(SSL_SESSION_get_id(a.get(), &len)[0], 9);
}

TEST(SessionCache, ExpiredEntriesAreDropped) {
  SessionCache c;
  c.put("old", make_session(1, /*age_s=*/600, /*timeout_s=*/300));
  c.put("new", make_session(2, 10, 300));
  EXPECT_FALSE(c.get("old"));
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.get("new"));
}

TEST(SessionCache, IgnoresNullAndNonResumable) {
  SessionCache c;
  c.put("a", nullptr);
  c.put("b", SessionPtr(SSL_SESSION_new()));  // no id, no ticket
  EXPECT_EQ(c.size(), 0u);
}

TEST(SessionCache, Erase) {
  SessionCache c;
  c.put("a", make_session(1));
  c.erase("a");
  c.erase("missing");
  EXPECT_EQ(c.size(), 0u);
  EXPECT_FALSE(c.get("a"));
}

TEST(SessionCache, BoundedUnderChurn) {
  SessionCache c(16);
  for (int i = 0; i < 1000; ++i) c.put("mx" + std::to_string(i) + ":25", make_session(static_cast<unsigned char>(i)));
  EXPECT_EQ(c.size(), 16u);
  EXPECT_TRUE(c.get("mx999:25"));
  EXPECT_FALSE(c.get("mx0:25"));
}

}  // namespace
}  // namespace ringpost::tls
