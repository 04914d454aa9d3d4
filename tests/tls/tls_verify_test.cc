// Certificate verification: enforced (SSL_VERIFY_PEER + host name) and opportunistic
// (RFC 7435: never fails on the certificate, records the result). SNI and IP literals.
#include <gtest/gtest.h>

#include "engine/tls/tls_engine.h"
#include "tests/tls/tls_fixture.h"

namespace ringpost::tls {
namespace {

using testing::Conn;
using testing::connect;
using testing::pki;
using Status = TlsEngine::Status;

bool contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

class TlsVerifyTest : public ::testing::Test {
 protected:
  TlsVerifyTest()
      : mx_server_(testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key)),
        self_signed_server_(testing::make_server_ctx(pki().self_signed.server_chain, pki().self_signed.server_key)) {}

  SslCtxPtr mx_server_;
  SslCtxPtr self_signed_server_;
};

TEST_F(TlsVerifyTest, EnforcedSucceedsWithTestCaAndHostName) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.test");
  ASSERT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
  EXPECT_TRUE(c.client->peer_verified());
  EXPECT_EQ(c.client->peer_verify_result(), "ok");
}

TEST_F(TlsVerifyTest, EnforcedFailsOnWrongHostName) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.elsewhere.test");
  EXPECT_EQ(c.link->handshake(), Status::error);
  const std::string err = c.client->last_error();
  EXPECT_TRUE(contains(err, "mx.elsewhere.test")) << err;
  EXPECT_TRUE(contains(err, "certificate verification failed")) << err;
  EXPECT_TRUE(contains(err, "hostname mismatch")) << err;
  EXPECT_TRUE(c.server->failed());  // it got our alert
}

TEST_F(TlsVerifyTest, EnforcedFailsWithUnrelatedCa) {
  ClientContext ctx = testing::make_client_ctx(true, pki().other.ca_cert);
  // The server sends leaf + its CA: the chain ends in a root we do not trust.
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.test");
  EXPECT_EQ(c.link->handshake(), Status::error);
  EXPECT_TRUE(contains(c.client->last_error(), "self-signed certificate in certificate chain"))
      << c.client->last_error();
  // The server sends the leaf only: we cannot even find its issuer.
  SslCtxPtr leaf_only = testing::make_server_ctx(pki().mx.server_cert, pki().mx.server_key);
  Conn d = connect(ctx.get(), leaf_only.get(), "mx.test");
  EXPECT_EQ(d.link->handshake(), Status::error);
  EXPECT_TRUE(contains(d.client->last_error(), "unable to get local issuer certificate")) << d.client->last_error();
}

// System trust store only: our test CA is unknown there.
TEST_F(TlsVerifyTest, EnforcedFailsWithSystemStoreOnly) {
  ClientContext ctx = testing::make_client_ctx(true, "");
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.test");
  EXPECT_EQ(c.link->handshake(), Status::error);
  EXPECT_TRUE(contains(c.client->last_error(), "certificate verification failed for mx.test"))
      << c.client->last_error();
}

TEST_F(TlsVerifyTest, EnforcedFailsOnSelfSigned) {
  ClientContext ctx = testing::make_client_ctx(true, "");
  Conn c = connect(ctx.get(), self_signed_server_.get(), "mx.test");
  EXPECT_EQ(c.link->handshake(), Status::error);
  EXPECT_TRUE(contains(c.client->last_error(), "self")) << c.client->last_error();
}

TEST_F(TlsVerifyTest, OpportunisticAcceptsSelfSignedAndRecordsWhy) {
  ClientContext ctx = testing::make_client_ctx(false, "");
  Conn c = connect(ctx.get(), self_signed_server_.get(), "mx.test");
  ASSERT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
  EXPECT_FALSE(c.client->peer_verified());
  EXPECT_TRUE(contains(c.client->peer_verify_result(), "self")) << c.client->peer_verify_result();
  EXPECT_EQ(c.client->last_error(), "");
  // And the channel works.
  EXPECT_EQ(testing::client_to_server(c, "EHLO x\r\n", {1u << 20}), "EHLO x\r\n");
}

TEST_F(TlsVerifyTest, OpportunisticRecordsHostMismatch) {
  ClientContext ctx = testing::make_client_ctx(false, pki().mx.ca_cert);
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.elsewhere.test");
  ASSERT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
  EXPECT_FALSE(c.client->peer_verified());
  EXPECT_EQ(c.client->peer_verify_result(), "hostname mismatch");
}

TEST_F(TlsVerifyTest, OpportunisticWithGoodCertificateReportsVerified) {
  ClientContext ctx = testing::make_client_ctx(false, pki().mx.ca_cert);
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.test");
  ASSERT_EQ(c.link->handshake(), Status::ok);
  EXPECT_TRUE(c.client->peer_verified());
}

TEST_F(TlsVerifyTest, SniIsTheHostNameWithoutTrailingDot) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  Conn c = connect(ctx.get(), mx_server_.get(), "mx.test.");
  ASSERT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
  EXPECT_EQ(c.server->sni(), "mx.test");
  EXPECT_EQ(c.client->host(), "mx.test");
}

// RFC 6066 §3: no SNI for an address; the certificate's IP SAN is what gets checked.
TEST_F(TlsVerifyTest, IpLiteralsSendNoSniAndMatchIpSan) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  for (const char* host : {"127.0.0.1", "[127.0.0.1]", "::1", "[IPv6:::1]"}) {
    Conn c = connect(ctx.get(), mx_server_.get(), host);
    ASSERT_EQ(c.link->handshake(), Status::ok) << host << ": " << c.client->last_error();
    EXPECT_EQ(c.server->sni(), "") << host;
    EXPECT_TRUE(c.client->peer_verified()) << host;
  }
  Conn wrong = connect(ctx.get(), mx_server_.get(), "127.0.0.2");
  EXPECT_EQ(wrong.link->handshake(), Status::error);
  EXPECT_TRUE(contains(wrong.client->last_error(), "127.0.0.2")) << wrong.client->last_error();
  EXPECT_TRUE(contains(wrong.client->last_error(), "IP address mismatch")) << wrong.client->last_error();
}

TEST_F(TlsVerifyTest, EnforcedNeedsAHostName) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  auto e = TlsEngine::client(ctx.get(), "", nullptr);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(e.error(), "host name")) << e.error();
  ClientContext opportunistic = testing::make_client_ctx(false, pki().mx.ca_cert);
  EXPECT_TRUE(TlsEngine::client(opportunistic.get(), "", nullptr));
}

TEST_F(TlsVerifyTest, ProtocolFloorAboveServerFails) {
  ClientContext ctx = testing::make_client_ctx(false, "", "TLSv1.3");
  SslCtxPtr old_server = testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key, TLS1_2_VERSION);
  Conn c = connect(ctx.get(), old_server.get(), "mx.test");
  EXPECT_EQ(c.link->handshake(), Status::error);
  EXPECT_TRUE(contains(c.client->last_error(), "protocol")) << c.client->last_error();
}

TEST_F(TlsVerifyTest, NegotiatesTls12WhenServerCapsIt) {
  ClientContext ctx = testing::make_client_ctx(true, pki().mx.ca_cert);
  SslCtxPtr old_server = testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key, TLS1_2_VERSION);
  Conn c = connect(ctx.get(), old_server.get(), "mx.test");
  ASSERT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
  EXPECT_EQ(c.client->protocol(), "TLSv1.2");
  EXPECT_TRUE(c.client->peer_verified());
}

}  // namespace
}  // namespace ringpost::tls
