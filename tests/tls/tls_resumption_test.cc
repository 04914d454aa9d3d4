// Session resumption through SessionCache, for TLS 1.3 (tickets after the handshake) and
// TLS 1.2 (session at the end of the handshake), with the server context kept across
// connections as a real MX keeps its ticket keys.
#include <gtest/gtest.h>

#include "engine/tls/session_cache.h"
#include "engine/tls/tls_engine.h"
#include "tests/tls/tls_fixture.h"

namespace ringpost::tls {
namespace {

using testing::Conn;
using testing::connect;
using testing::pki;
using Status = TlsEngine::Status;

class TlsResumptionTest : public ::testing::TestWithParam<int> {
 protected:
  TlsResumptionTest()
      : client_ctx_(testing::make_client_ctx(true, pki().mx.ca_cert)),
        server_ctx_(testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key, GetParam())) {}

  // What a driver does: handshake, exchange a reply, and after handshake() and each read()
  // move any captured session into the cache.
  Conn session(SSL_SESSION* resume) {
    Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test", resume);
    EXPECT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
    if (SessionPtr s = c.client->take_new_session()) cache_.put(key_, std::move(s));
    EXPECT_EQ(testing::server_to_client(c, "250 mx.test\r\n", {1u << 20}), "250 mx.test\r\n");
    if (SessionPtr s = c.client->take_new_session()) cache_.put(key_, std::move(s));
    return c;
  }

  const std::string key_ = SessionCache::key("mx.test", 25);
  ClientContext client_ctx_;
  SslCtxPtr server_ctx_;
  SessionCache cache_;
};

TEST_P(TlsResumptionTest, SecondConnectionResumes) {
  Conn first = session(nullptr);
  EXPECT_FALSE(first.client->session_reused());
  ASSERT_EQ(cache_.size(), 1u);

  SessionPtr cached = cache_.get(key_);
  ASSERT_TRUE(cached);
  Conn second = session(cached.get());
  EXPECT_TRUE(second.client->session_reused());
  EXPECT_EQ(second.client->protocol(), GetParam() == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
  // The verification of the original handshake carries over.
  EXPECT_TRUE(second.client->peer_verified());
  EXPECT_EQ(second.client->peer_verify_result(), "ok");
}

TEST_P(TlsResumptionTest, SessionForResumptionAfterFirstRead) {
  Conn first = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  ASSERT_EQ(first.link->handshake(), Status::ok);
  if (GetParam() != TLS1_2_VERSION) {
    // TLS 1.3: right after the handshake there is no ticket yet, so nothing to resume with.
    EXPECT_FALSE(first.client->session_for_resumption());
  }
  EXPECT_EQ(testing::server_to_client(first, "220 ready\r\n", {1u << 20}), "220 ready\r\n");
  SessionPtr s = first.client->session_for_resumption();
  ASSERT_TRUE(s);
  Conn second = connect(client_ctx_.get(), server_ctx_.get(), "mx.test", s.get());
  ASSERT_EQ(second.link->handshake(), Status::ok) << second.client->last_error();
  EXPECT_TRUE(second.client->session_reused());
}

// A server that lost its ticket keys / cache (restart): full handshake, no error.
TEST_P(TlsResumptionTest, ForgottenSessionFallsBackToFullHandshake) {
  Conn first = session(nullptr);
  SessionPtr cached = cache_.get(key_);
  ASSERT_TRUE(cached);
  server_ctx_ = testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key, GetParam());
  Conn second = session(cached.get());
  EXPECT_FALSE(second.client->session_reused());
  EXPECT_TRUE(second.client->peer_verified());
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsResumptionTest, ::testing::Values(0, TLS1_2_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == TLS1_2_VERSION ? std::string("Tls12") : std::string("Tls13");
                         });

}  // namespace
}  // namespace ringpost::tls
