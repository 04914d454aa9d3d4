// The test PKI itself: the server certificate chains to the CA and carries the requested names.
#include "tests/tls/test_pki.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>

#include "tests/tls/tls_fixture.h"

namespace ringpost::tls::testing {
namespace {

X509* load(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return x;
}

TEST(TestPki, ServerCertificateIsSignedByTheCaForTheNames) {
  const PkiFiles& f = pki().mx;
  X509* ca = load(f.ca_cert);
  X509* leaf = load(f.server_cert);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(X509_check_issued(ca, leaf), X509_V_OK);
  EXPECT_EQ(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
  EXPECT_EQ(X509_check_host(leaf, "mx.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf, "other.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf, "::1", 0), 1);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  X509_free(ca);
  X509_free(leaf);
  EXPECT_TRUE(std::filesystem::exists(f.server_key));
  EXPECT_TRUE(std::filesystem::exists(f.server_chain));
}

TEST(TestPki, SelfSignedHasNoCa) {
  const PkiFiles& f = pki().self_signed;
  EXPECT_EQ(f.ca_cert, f.server_cert);
  EXPECT_EQ(f.ca_key, "");
  X509* leaf = load(f.server_cert);
  ASSERT_TRUE(leaf);
  // Issued by itself, signed by its own key; no keyCertSign, like a real MX's self-signed cert.
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(leaf)), 0);
  EXPECT_EQ(X509_verify(leaf, X509_get0_pubkey(leaf)), 1);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  X509_free(leaf);
}

TEST(TestPki, RsaKeys) {
  const std::string dir = pki().dir + "/rsa";
  std::filesystem::create_directory(dir);
  PkiOptions o;
  o.rsa = true;
  o.dns_names = {"rsa.test"};
  auto f = make_test_pki(dir, o);
  ASSERT_TRUE(f) << f.error();
  X509* leaf = load(f->server_cert);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_RSA);
  EXPECT_EQ(X509_check_host(leaf, "rsa.test", 0, 0, nullptr), 1);
  X509_free(leaf);
}

TEST(TestPki, MissingDirectoryIsAnError) {
  auto f = make_test_pki("/nonexistent/ringpost-pki");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().find("/nonexistent/ringpost-pki"), std::string::npos) << f.error();
}

}  // namespace
}  // namespace ringpost::tls::testing
