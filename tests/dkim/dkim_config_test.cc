// The [dkim."domain"] config sections and server.require_dkim: shapes, defaults, and errors that
// name the file, the line and the dotted key, with keys read and checked at load time.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>

#include "dkim/signing_key.h"
#include "engine/config/config.h"
#include "tests/dkim/dkim_fixtures.h"

namespace ringpost::dkim_test {
namespace {

using engine::Config;

Config load_ok(const std::string& toml) {
  auto cfg = engine::load_config_string(toml, "ringpost.toml");
  EXPECT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error()) << "\n" << toml;
  return cfg ? std::move(*cfg) : Config{};
}

std::string load_error(const std::string& toml) {
  auto cfg = engine::load_config_string(toml, "ringpost.toml");
  EXPECT_FALSE(cfg.has_value()) << "expected an error for:\n" << toml;
  return cfg ? std::string() : cfg.error();
}

std::string q(const std::filesystem::path& p) { return fmt::format("\"{}\"", p.string()); }

TEST(DkimConfig, NoDkimSectionMeansNothingToSignAndNothingRequired) {
  Config c = load_ok("");
  EXPECT_TRUE(c.dkim.empty());
  EXPECT_FALSE(c.require_dkim);
}

TEST(DkimConfig, OneTablePerDomainWithDefaults) {
  Config c = load_ok(fmt::format("[server]\nrequire_dkim = true\n\n[dkim.\"Example.TEST\"]\nselector = \"s1\"\n"
                                 "key_file = {}\nalgorithm = \"rsa-sha256\"\n",
                                 q(rsa2048().pem_path)));
  EXPECT_TRUE(c.require_dkim);
  ASSERT_EQ(c.dkim.size(), 1u);
  const dkim::SignEntry& e = c.dkim[0];
  EXPECT_EQ(e.domain, "example.test");
  EXPECT_EQ(e.selector, "s1");
  ASSERT_TRUE(e.key);
  EXPECT_EQ(e.key->algorithm, dkim::Algorithm::rsa_sha256);
  EXPECT_EQ(e.key->public_key_b64, rsa2048().openssl_p);
  EXPECT_EQ(dkim::to_string(e.canon), "relaxed/relaxed");
  EXPECT_EQ(e.headers, dkim::default_signed_headers());
  EXPECT_EQ(e.oversign, dkim::default_oversigned_headers());
  EXPECT_FALSE(e.subdomains);
  EXPECT_EQ(e.origin, "ringpost.toml:4");
}

TEST(DkimConfig, ArrayOfTablesIsDualSigningInFileOrder) {
  Config c = load_ok(fmt::format(
      "[[dkim.\"example.test\"]]\nselector = \"rsa\"\nkey_file = {}\n\n"
      "[[dkim.\"example.test\"]]\nselector = \"ed\"\nkey_file = {}\nalgorithm = \"ed25519-sha256\"\nsubdomains = true\n"
      "canonicalization = \"simple/relaxed\"\nheaders = [\"From\", \"To\", \"Subject\", \"List-Unsubscribe\"]\n"
      "oversign = [\"From\"]\n\n"
      "[dkim.\"other.test\"]\nselector = \"o\"\nkey_file = {}\n",
      q(rsa2048().pem_path), q(ed25519().pem_path), q(rsa1024().pem_path)));
  ASSERT_EQ(c.dkim.size(), 3u);
  EXPECT_EQ(c.dkim[0].selector, "rsa");
  EXPECT_EQ(c.dkim[0].key->algorithm, dkim::Algorithm::rsa_sha256);  // taken from the key when not given
  EXPECT_EQ(c.dkim[1].selector, "ed");
  EXPECT_EQ(c.dkim[1].key->algorithm, dkim::Algorithm::ed25519_sha256);
  EXPECT_TRUE(c.dkim[1].subdomains);
  EXPECT_EQ(dkim::to_string(c.dkim[1].canon), "simple/relaxed");
  EXPECT_EQ(c.dkim[1].headers, (std::vector<std::string>{"From", "To", "Subject", "List-Unsubscribe"}));
  EXPECT_EQ(c.dkim[1].oversign, (std::vector<std::string>{"From"}));
  EXPECT_EQ(c.dkim[1].origin, "ringpost.toml:5");
  EXPECT_EQ(c.dkim[2].domain, "other.test");
}

TEST(DkimConfig, DefaultOversignFollowsACustomHeaderList) {
  Config c = load_ok(fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nheaders = [\"from\", \"subject\"]\n",
                                 q(ed25519().pem_path)));
  ASSERT_EQ(c.dkim.size(), 1u);
  EXPECT_EQ(c.dkim[0].oversign, (std::vector<std::string>{"From", "Subject"}));
}

TEST(DkimConfig, RelativeKeyFileIsRelativeToTheConfigFile) {
  const auto dir = scratch_dir() / "relcfg";
  std::filesystem::create_directories(dir / "keys");
  std::filesystem::copy_file(ed25519().pem_path, dir / "keys" / "ed.pem",
                             std::filesystem::copy_options::overwrite_existing);
  {
    std::ofstream out(dir / "ringpost.toml");
    out << "[dkim.\"example.test\"]\nselector = \"ed\"\nkey_file = \"keys/ed.pem\"\n";
  }
  auto c = engine::load_config_file((dir / "ringpost.toml").string());
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->dkim.size(), 1u);
  EXPECT_EQ(c->dkim[0].key->public_key_b64, ed25519().openssl_p);
}

struct BadCase {
  const char* name;
  std::string toml;
  std::string expected;  // the whole message, or its start when it ends with "..."
};

std::vector<BadCase> bad_cases() {
  // Placeholders, filled in by the test: the cases are listed before any key exists.
  const std::string rsa = "@RSA@", ed = "@ED@";  // quoted TOML strings once filled
  const std::string garbage = "{garbage}";
  return {
      {"MissingKeyFile", "[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = \"/nonexistent/k.pem\"\n",
       "ringpost.toml:3: key 'dkim.\"example.test\".key_file': /nonexistent/k.pem: cannot open: No such file or directory"},
      {"GarbageKeyFile", "[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = \"{garbage}\"\n",
       "ringpost.toml:3: key 'dkim.\"example.test\".key_file': {garbage}: not a PEM file (no \"-----BEGIN\" line)"},
      {"AlgorithmMismatch",
       fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nalgorithm = \"ed25519-sha256\"\nkey_file = {}\n", rsa),
       "ringpost.toml:4: key 'dkim.\"example.test\".key_file': {rsa} holds an RSA key, but algorithm is "
       "\"ed25519-sha256\""},
      {"UnknownAlgorithm", fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nalgorithm = \"rsa-sha1\"\n", rsa),
       "ringpost.toml:4: key 'dkim.\"example.test\".algorithm': 'rsa-sha1' is not \"rsa-sha256\" or \"ed25519-sha256\""},
      {"MissingSelector", fmt::format("\n[dkim.\"example.test\"]\nkey_file = {}\n", ed),
       "ringpost.toml:2: key 'dkim.\"example.test\".selector': required in every DKIM entry"},
      {"BadSelector", fmt::format("[dkim.\"example.test\"]\nselector = \"../x\"\nkey_file = {}\n", ed),
       "ringpost.toml:2: key 'dkim.\"example.test\".selector': '../x' is not a DNS label such as \"s2024\""},
      {"UnknownKey", fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nselectr = \"t\"\n", ed),
       "ringpost.toml:4: key 'dkim.\"example.test\".selectr': unknown key"},
      {"HeadersWithoutFrom", fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nheaders = [\"To\"]\n", ed),
       "ringpost.toml:4: key 'dkim.\"example.test\".headers': must include \"From\" (RFC 6376 §5.4)"},
      {"BadHeaderName", fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nheaders = [\"From\", \"X.Y\"]\n", ed),
       "ringpost.toml:4: key 'dkim.\"example.test\".headers': expected a header field name of letters, digits, '-' and '_'"},
      {"OversignNotSigned",
       fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nheaders = [\"From\"]\noversign = [\"Subject\"]\n", ed),
       "ringpost.toml:5: key 'dkim.\"example.test\".oversign': 'Subject' is not in headers; only signed fields can be over-signed"},
      {"BadCanonicalization",
       fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\ncanonicalization = \"relaxed/nofws\"\n", ed),
       "ringpost.toml:4: key 'dkim.\"example.test\".canonicalization': 'nofws' is not \"simple\" or \"relaxed\""},
      {"SubdomainsNotBool", fmt::format("[dkim.\"example.test\"]\nselector = \"s\"\nkey_file = {}\nsubdomains = \"yes\"\n", ed),
       "ringpost.toml:4: key 'dkim.\"example.test\".subdomains': expected true or false"},
      {"DuplicateSelector",
       fmt::format("[[dkim.\"example.test\"]]\nselector = \"s\"\nkey_file = {}\n[[dkim.\"example.test\"]]\nselector = \"S\"\nkey_file = {}\n", ed, rsa),
       "ringpost.toml:5: key 'dkim.\"example.test\"[1].selector': selector 'S' is already configured for example.test at "
       "ringpost.toml:1"},
      {"SecondEntryBadKey",
       fmt::format("[[dkim.\"example.test\"]]\nselector = \"a\"\nkey_file = {}\n[[dkim.\"example.test\"]]\nselector = \"b\"\nkey_file = \"/no/such.pem\"\n", ed),
       "ringpost.toml:6: key 'dkim.\"example.test\"[1].key_file': /no/such.pem: cannot open: No such file or directory"},
      {"ArrayAtTop", fmt::format("[[dkim]]\ndomain = \"example.test\"\nselector = \"s\"\nkey_file = {}\n", ed),
       "ringpost.toml:1: key 'dkim': expected [dkim.\"example.test\"] or [[dkim.\"example.test\"]] sections, one per signing domain"},
      {"DomainNotATable", "[dkim]\n\"example.test\" = \"s\"\n",
       "ringpost.toml:2: key 'dkim.\"example.test\"': expected a table ([dkim.\"example.test\"]) or an array of tables "
       "([[dkim.\"example.test\"]])"},
      {"BadDomain", fmt::format("[dkim.\"exa mple.test\"]\nselector = \"s\"\nkey_file = {}\n", ed),
       "ringpost.toml:1: key 'dkim.\"exa mple.test\"': 'exa mple.test' is not a domain name"},
      {"RequireNotBool", "[server]\nrequire_dkim = 1\n", "ringpost.toml:2: key 'server.require_dkim': expected true or false"},
  };
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class DkimConfigError : public ::testing::TestWithParam<BadCase> {};

std::string fill(std::string text) {
  const auto garbage = scratch_dir() / "garbage.pem";
  std::ofstream(garbage) << "this is not a key\n";
  for (auto [from, to] : {std::pair{std::string("@RSA@"), q(rsa2048().pem_path)}, std::pair{std::string("@ED@"), q(ed25519().pem_path)},
                          std::pair{std::string("{rsa}"), rsa2048().pem_path.string()},
                          std::pair{std::string("{garbage}"), garbage.string()}})
    for (std::size_t at; (at = text.find(from)) != std::string::npos;) text.replace(at, from.size(), to);
  return text;
}

TEST_P(DkimConfigError, NamesFileLineAndKey) {
  const BadCase& c = GetParam();
  const std::string toml = fill(c.toml);
  EXPECT_EQ(load_error(toml), fill(c.expected)) << toml;
}

INSTANTIATE_TEST_SUITE_P(All, DkimConfigError, ::testing::ValuesIn(bad_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringpost::dkim_test
