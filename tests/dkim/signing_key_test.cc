// Key parsing (what the config loader accepts and refuses), the public key DNS publishes,
// compared with what the openssl command line derives, and key generation for `keygen`.
#include "dkim/signing_key.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "tests/dkim/dkim_fixtures.h"

namespace ringpost::dkim_test {
namespace {

std::string openssl_key(const std::string& name, const std::vector<std::string>& genpkey_args) {
  const auto path = scratch_dir() / (name + ".pem");
  std::vector<std::string> args{"genpkey"};
  args.insert(args.end(), genpkey_args.begin(), genpkey_args.end());
  args.insert(args.end(), {"-out", path.string()});
  auto r = run_openssl(args);
  EXPECT_TRUE(r) << r.error();
  return read_file(path);
}

// The character-strings of a master-file TXT record: "a" "b" -> {a, b}.
std::vector<std::string> txt_strings(const std::string& record) {
  std::vector<std::string> out;
  for (std::size_t open = record.find('"'); open != std::string::npos; open = record.find('"', open + 1)) {
    const std::size_t close = record.find('"', open + 1);
    out.push_back(record.substr(open + 1, close - open - 1));
    open = close;
  }
  return out;
}

TEST(SigningKey, RsaKeyParsesAndItsPublicKeyMatchesOpenssl) {
  const TestKey& k = rsa2048();
  EXPECT_EQ(k.key->algorithm, dkim::Algorithm::rsa_sha256);
  EXPECT_EQ(k.key->bits, 2048u);
  EXPECT_EQ(k.key->public_key_b64, k.openssl_p);
  EXPECT_EQ(rsa1024().key->bits, 1024u);
  EXPECT_EQ(rsa1024().key->public_key_b64, rsa1024().openssl_p);
}

TEST(SigningKey, Ed25519KeyParsesAndItsPublicKeyIsTheRaw32Bytes) {
  const TestKey& k = ed25519();
  EXPECT_EQ(k.key->algorithm, dkim::Algorithm::ed25519_sha256);
  EXPECT_EQ(k.key->public_key_b64, k.openssl_p);
  EXPECT_EQ(k.key->public_key_b64.size(), 44u);  // base64 of 32 octets (RFC 8463 §4)
}

TEST(SigningKey, TraditionalRsaPemIsAcceptedToo) {
  // `openssl genrsa -traditional` / older opendkim-genkey write "BEGIN RSA PRIVATE KEY".
  const auto path = scratch_dir() / "traditional.pem";
  ASSERT_TRUE(run_openssl({"genrsa", "-traditional", "-out", path.string(), "1024"}));
  const std::string pem = read_file(path);
  ASSERT_NE(pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto key = dkim::parse_signing_key(pem, dkim::Algorithm::rsa_sha256);
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->bits, 1024u);
}

TEST(SigningKey, RefusesWhatCannotSign) {
  auto mismatch = dkim::parse_signing_key(read_file(rsa2048().pem_path), dkim::Algorithm::ed25519_sha256);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), "an RSA key, but algorithm is ed25519-sha256");

  auto small = dkim::parse_signing_key(openssl_key("rsa512", {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"}));
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().find("512 bits"), std::string::npos) << small.error();

  auto ec = dkim::parse_signing_key(openssl_key("p256", {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}));
  ASSERT_FALSE(ec);
  EXPECT_NE(ec.error().find("RSA or Ed25519"), std::string::npos) << ec.error();

  auto encrypted = dkim::parse_signing_key(openssl_key("enc", {"-algorithm", "ED25519", "-aes-256-cbc", "-pass", "pass:secret"}));
  ASSERT_FALSE(encrypted);
  EXPECT_NE(encrypted.error().find("not an unencrypted PEM private key"), std::string::npos) << encrypted.error();

  auto garbage = dkim::parse_signing_key("hello");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().find("not a PEM file"), std::string::npos);

  auto pub_only = dkim::parse_signing_key("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n");
  EXPECT_FALSE(pub_only);

  auto missing = dkim::load_signing_key("/nonexistent/dir/key.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "/nonexistent/dir/key.pem: cannot open: No such file or directory");
}

TEST(SigningKey, TxtRecordSplitsLongValuesInto255OctetStrings) {
  const std::string record = dkim::dns_txt_record("example.test", "s2025", *rsa2048().key);
  ASSERT_TRUE(record.starts_with("s2025._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=")) << record;
  const auto strings = txt_strings(record);
  ASSERT_GE(strings.size(), 2u) << "a 2048-bit key does not fit one string: " << record;
  std::string joined;
  for (const auto& s : strings) {
    EXPECT_LE(s.size(), 255u);
    joined += s;
  }
  EXPECT_EQ(joined, txt_value(rsa2048()));  // the openssl-derived value

  const std::string ed = dkim::dns_txt_record("example.test.", "ed", *ed25519().key);
  EXPECT_EQ(ed, fmt::format("ed._domainkey.example.test. IN TXT \"{}\"", txt_value(ed25519())));
}

TEST(SigningKey, GeneratedKeysLoadBack) {
  auto ed = dkim::generate_private_key_pem(dkim::Algorithm::ed25519_sha256, 0);
  ASSERT_TRUE(ed) << ed.error();
  auto ed_key = dkim::parse_signing_key(*ed, dkim::Algorithm::ed25519_sha256);
  ASSERT_TRUE(ed_key) << ed_key.error();
  auto ed2 = dkim::generate_private_key_pem(dkim::Algorithm::ed25519_sha256, 0);
  ASSERT_TRUE(ed2);
  EXPECT_NE(*ed, *ed2) << "two generated keys are equal";

  auto rsa = dkim::generate_private_key_pem(dkim::Algorithm::rsa_sha256, 1024);
  ASSERT_TRUE(rsa) << rsa.error();
  auto rsa_key = dkim::parse_signing_key(*rsa);
  ASSERT_TRUE(rsa_key) << rsa_key.error();
  EXPECT_EQ(rsa_key->bits, 1024u);

  EXPECT_FALSE(dkim::generate_private_key_pem(dkim::Algorithm::rsa_sha256, 512));
  EXPECT_FALSE(dkim::generate_private_key_pem(dkim::Algorithm::rsa_sha256, 8192));
}

TEST(SignEntry, ParsesAlgorithmAndCanonicalization) {
  EXPECT_EQ(dkim::parse_algorithm("rsa-sha256"), dkim::Algorithm::rsa_sha256);
  EXPECT_EQ(dkim::parse_algorithm("ed25519-sha256"), dkim::Algorithm::ed25519_sha256);
  EXPECT_FALSE(dkim::parse_algorithm("rsa-sha1"));  // RFC 8301 §3.1: must not sign with SHA-1
  using dkim::Canon;
  EXPECT_EQ(dkim::parse_canonicalization("relaxed/relaxed"), (dkim::Canonicalization{Canon::relaxed, Canon::relaxed}));
  EXPECT_EQ(dkim::parse_canonicalization("simple/relaxed"), (dkim::Canonicalization{Canon::simple, Canon::relaxed}));
  EXPECT_EQ(dkim::parse_canonicalization("relaxed"), (dkim::Canonicalization{Canon::relaxed, Canon::simple}));
  EXPECT_FALSE(dkim::parse_canonicalization("relaxed/"));
  EXPECT_FALSE(dkim::parse_canonicalization("nofws"));
  EXPECT_TRUE(dkim::is_dns_name("s2025.eu"));
  EXPECT_FALSE(dkim::is_dns_name("../etc"));
  EXPECT_FALSE(dkim::is_dns_name("a..b"));
  EXPECT_FALSE(dkim::is_dns_name(std::string(64, 'a')));
  EXPECT_TRUE(dkim::is_signable_header_name("List-Unsubscribe-Post"));
  EXPECT_FALSE(dkim::is_signable_header_name("X.Dot"));
}

}  // namespace
}  // namespace ringpost::dkim_test
