// ClientContext::make: options to SSL_CTX settings, and its errors.
#include "engine/tls/client_context.h"

#include <gtest/gtest.h>

#include "tests/tls/tls_fixture.h"

namespace ringpost::tls {
namespace {

TEST(ClientContext, DefaultsAreOpportunisticTls12Floor) {
  auto ctx = ClientContext::make(ClientTlsOptions{});
  ASSERT_TRUE(ctx) << ctx.error();
  EXPECT_FALSE(ctx->verify());
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx->get()), SSL_VERIFY_NONE);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->get()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx->get()), 0);
  EXPECT_TRUE(SSL_CTX_get_options(ctx->get()) & SSL_OP_NO_RENEGOTIATION);
  EXPECT_TRUE(SSL_CTX_get_session_cache_mode(ctx->get()) & SSL_SESS_CACHE_CLIENT);
}

TEST(ClientContext, VerifyMeansVerifyPeer) {
  ClientTlsOptions o;
  o.verify = true;
  o.ca_file = testing::pki().mx.ca_cert;
  o.min_protocol = "TLSv1.3";
  auto ctx = ClientContext::make(o);
  ASSERT_TRUE(ctx) << ctx.error();
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx->get()), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->get()), TLS1_3_VERSION);
  EXPECT_EQ(ctx->options().ca_file, o.ca_file);
}

TEST(ClientContext, RejectsUnknownProtocol) {
  ClientTlsOptions o;
  o.min_protocol = "SSLv3";
  auto ctx = ClientContext::make(o);
  ASSERT_FALSE(ctx);
  EXPECT_NE(ctx.error().find("SSLv3"), std::string::npos) << ctx.error();
  o.min_protocol = "TLSv1.2";
  o.max_protocol = "tls1.3";
  EXPECT_FALSE(ClientContext::make(o));
}

TEST(ClientContext, RejectsMinAboveMax) {
  ClientTlsOptions o;
  o.min_protocol = "TLSv1.3";
  o.max_protocol = "TLSv1.2";
  auto ctx = ClientContext::make(o);
  ASSERT_FALSE(ctx);
  EXPECT_NE(ctx.error().find("above"), std::string::npos) << ctx.error();
}

TEST(ClientContext, MissingCaFileNamesThePath) {
  ClientTlsOptions o;
  o.verify = true;
  o.ca_file = "/nonexistent/ringpost-ca.pem";
  auto ctx = ClientContext::make(o);
  ASSERT_FALSE(ctx);
  EXPECT_NE(ctx.error().find("/nonexistent/ringpost-ca.pem"), std::string::npos) << ctx.error();
}

TEST(ClientContext, IsMovable) {
  auto ctx = ClientContext::make(ClientTlsOptions{});
  ASSERT_TRUE(ctx);
  SSL_CTX* raw = ctx->get();
  ClientContext moved = std::move(*ctx);
  EXPECT_EQ(moved.get(), raw);
}

}  // namespace
}  // namespace ringpost::tls
