// See dkim_fixtures.h.
#include "tests/dkim/dkim_fixtures.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "tests/dns_support/subprocess.h"

namespace ringpost::dkim_test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOpenssl = "/usr/bin/openssl";
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kPerl = "/usr/bin/perl";

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

tl::expected<std::string, std::string> run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s) {
  static int n = 0;
  const auto out = scratch_dir() / fmt::format("cmd-{}.out", n++);
  auto r = testing::run_command(argv, out, timeout);
  if (!r) return tl::make_unexpected(r.error());
  if (!r->exited_ok())
    return tl::make_unexpected(fmt::format("{} failed ({}): {}", argv[0], testing::describe_wait_status(r->status), r->output));
  return r->output;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

TestKey make_key(const std::string& name, const std::vector<std::string>& genpkey_args) {
  TestKey k;
  k.name = name;
  k.pem_path = scratch_dir() / (name + ".pem");
  std::vector<std::string> gen{kOpenssl, "genpkey"};
  gen.insert(gen.end(), genpkey_args.begin(), genpkey_args.end());
  gen.insert(gen.end(), {"-out", k.pem_path.string()});
  if (auto r = run(gen); !r) throw std::runtime_error(r.error());
  const auto der = scratch_dir() / (name + ".pub.der");
  if (auto r = run({kOpenssl, "pkey", "-in", k.pem_path.string(), "-pubout", "-outform", "DER", "-out", der.string()}); !r)
    throw std::runtime_error(r.error());
  std::string pub = read_file(der);
  const bool ed = name.starts_with("ed");
  // RFC 8463 §4: an Ed25519 p= is the bare 32-byte key, the tail of the 44-byte SPKI.
  if (ed) pub = pub.substr(pub.size() - 32);
  const auto raw = scratch_dir() / (name + ".pub.raw");
  write_file(raw, pub);
  auto b64 = run({kOpenssl, "base64", "-A", "-in", raw.string()});
  if (!b64) throw std::runtime_error(b64.error());
  k.openssl_p = trim(*b64);
  auto parsed = dkim::parse_signing_key(read_file(k.pem_path));
  if (!parsed) throw std::runtime_error(fmt::format("{}: {}", name, parsed.error()));
  k.key = std::make_shared<const dkim::SigningKey>(std::move(*parsed));
  return k;
}

std::string field_value(const std::string& line, std::string_view key) {
  const std::string needle = fmt::format(" {}=", key);
  const auto at = line.find(needle);
  if (at == std::string::npos) return {};
  const auto start = at + needle.size();
  if (key == "detail") return line.substr(start);
  return line.substr(start, line.find(' ', start) - start);
}

// Index of the first char of the field `name` past any DKIM-Signature fields, or npos.
std::size_t field_start(const std::string& m, std::string_view name) {
  const std::size_t header_end = m.find("\r\n\r\n");
  for (std::size_t pos = 0; pos < header_end;) {
    if (m.compare(pos, name.size(), name) == 0 && m[pos + name.size()] == ':') return pos;
    pos = m.find("\r\n", pos);
    if (pos == std::string::npos) break;
    pos += 2;
  }
  return std::string::npos;
}

bool flip_first_alnum(std::string& s, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to && i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c)) {
      s[i] = (c == 'a') ? 'b' : (c == '0' ? '1' : (std::isdigit(c) ? '0' : 'a'));
      return true;
    }
  }
  return false;
}

}  // namespace

const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      char tmpl[] = "/tmp/ringpost-dkim-XXXXXX";
      if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

tl::expected<std::string, std::string> run_openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

const TestKey& rsa2048() {
  static const TestKey k = make_key("rsa2048", {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
  return k;
}
const TestKey& rsa1024() {
  static const TestKey k = make_key("rsa1024", {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"});
  return k;
}
const TestKey& ed25519() {
  static const TestKey k = make_key("ed25519", {"-algorithm", "ED25519"});
  return k;
}

std::string txt_value(const TestKey& key) {
  return fmt::format("v=DKIM1; k={}; p={}", key.key->algorithm == dkim::Algorithm::rsa_sha256 ? "rsa" : "ed25519",
                     key.openssl_p);
}

std::pair<std::string, std::string> txt_record(const std::string& domain, const std::string& selector,
                                               const TestKey& key) {
  return {fmt::format("{}._domainkey.{}", selector, domain), txt_value(key)};
}

dkim::SignEntry make_entry(std::string domain, std::string selector, const TestKey& key, dkim::Canonicalization canon) {
  dkim::SignEntry e;
  e.domain = std::move(domain);
  e.selector = std::move(selector);
  e.key = key.key;
  e.canon = canon;
  e.headers = dkim::default_signed_headers();
  e.oversign = dkim::default_oversigned_headers();
  return e;
}

std::string_view verifier_name(Verifier v) { return v == Verifier::dkimpy ? "python3-dkim" : "Mail::DKIM"; }

bool MessageVerdict::all_pass() const {
  if (signatures.empty()) return false;
  for (const auto& s : signatures)
    if (s.result != "pass") return false;
  return true;
}

bool MessageVerdict::none_pass() const {
  for (const auto& s : signatures)
    if (s.result == "pass") return false;
  return true;
}

std::string MessageVerdict::describe() const {
  std::string out = fmt::format("{} signature(s)", declared);
  for (const auto& s : signatures)
    out += fmt::format("\n    [{}] d={} s={} a={}: {} {}", s.index, s.domain, s.selector, s.algorithm, s.result, s.detail);
  return out;
}

tl::expected<std::vector<MessageVerdict>, std::string> run_verifier(Verifier v, const std::vector<std::string>& messages,
                                                                    const KeySource& keys) {
  static int n = 0;
  std::vector<std::string> argv;
  const std::filesystem::path dir = RINGPOST_DKIM_TEST_DIR;
  if (v == Verifier::dkimpy) argv = {kPython, "-I", (dir / "verify_python.py").string()};
  else argv = {kPerl, (dir / "verify_perl.pl").string()};
  for (const auto& [name, value] : keys.txt) argv.push_back(fmt::format("--txt={}={}", name, value));
  if (!keys.dns.empty()) argv.push_back(fmt::format("--dns={}", keys.dns));
  for (const std::string& m : messages) {
    const auto path = scratch_dir() / fmt::format("msg-{}.eml", n++);
    write_file(path, m);
    argv.push_back(path.string());
  }
  auto out = run(argv, 120s);
  if (!out) return tl::make_unexpected(out.error());
  std::vector<MessageVerdict> verdicts;
  std::istringstream lines(*out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("MESSAGE ")) {
      verdicts.emplace_back();
    } else if (line.starts_with("RESULT ") && !verdicts.empty()) {
      SignatureVerdict s;
      s.index = std::atoi(field_value(line, "index").c_str());
      s.domain = field_value(line, "d");
      s.selector = field_value(line, "s");
      s.algorithm = field_value(line, "a");
      s.result = field_value(line, "result");
      s.detail = field_value(line, "detail");
      verdicts.back().signatures.push_back(std::move(s));
    } else if (line.starts_with("SIGNATURES ") && !verdicts.empty()) {
      verdicts.back().declared = std::atoi(line.c_str() + 11);
    }
  }
  if (verdicts.size() != messages.size())
    return tl::make_unexpected(fmt::format("{}: {} verdicts for {} messages; output:\n{}", verifier_name(v),
                                           verdicts.size(), messages.size(), *out));
  return verdicts;
}

std::string tamper_header(const std::string& message) {
  std::string m = message;
  std::size_t at = field_start(m, "Subject");
  if (at == std::string::npos) at = field_start(m, "From");
  if (at == std::string::npos) throw std::runtime_error("nothing to tamper with in the header");
  const std::size_t colon = m.find(':', at);
  if (!flip_first_alnum(m, colon + 1, m.find("\r\n", colon))) throw std::runtime_error("no letter in the field");
  return m;
}

std::string tamper_body(const std::string& message) {
  std::string m = message;
  const std::size_t body = m.find("\r\n\r\n");
  if (body == std::string::npos) {
    // No body at all: give it one (a line appended to the header section would only be a
    // malformed header field, which verifiers may skip).
    if (!m.ends_with("\r\n")) m += "\r\n";
    m += "\r\ntampered\r\n";
  } else if (!flip_first_alnum(m, body + 4, m.size())) {
    m += "tampered\r\n";
  }
  return m;
}

::testing::AssertionResult verified_by_both(const std::string& signed_message, const KeySource& keys,
                                            int expected_signatures) {
  const std::vector<std::string> messages{signed_message, tamper_header(signed_message), tamper_body(signed_message)};
  std::string report;
  bool ok = true;
  for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
    auto verdicts = run_verifier(v, messages, keys);
    if (!verdicts) return ::testing::AssertionFailure() << verdicts.error();
    const auto& [good, bad_header, bad_body] = std::tie((*verdicts)[0], (*verdicts)[1], (*verdicts)[2]);
    const bool good_ok = good.all_pass() && good.declared == expected_signatures &&
                         static_cast<int>(good.signatures.size()) == expected_signatures;
    const bool tamper_ok = bad_header.declared == expected_signatures && bad_header.none_pass() &&
                           bad_body.declared == expected_signatures && bad_body.none_pass();
    ok = ok && good_ok && tamper_ok;
    report += fmt::format("\n  {}: signed {} ({}){}\n  {}: header tampered {} ({})\n  {}: body tampered {} ({})",
                          verifier_name(v), good_ok ? "verifies" : "DOES NOT VERIFY", good.describe(),
                          good_ok ? "" : fmt::format(", expected {} passing", expected_signatures), verifier_name(v),
                          bad_header.none_pass() ? "fails as it must" : "STILL PASSES", bad_header.describe(),
                          verifier_name(v), bad_body.none_pass() ? "fails as it must" : "STILL PASSES",
                          bad_body.describe());
  }
  if (ok) return ::testing::AssertionSuccess() << report;
  return ::testing::AssertionFailure() << report << "\n--- signed message ---\n" << signed_message.substr(0, 3000);
}

std::string to_crlf(std::string_view lf_text) {
  std::string out;
  out.reserve(lf_text.size() + lf_text.size() / 32);
  for (std::size_t i = 0; i < lf_text.size(); ++i) {
    if (lf_text[i] == '\n' && (i == 0 || lf_text[i - 1] != '\r')) out += '\r';
    out += lf_text[i];
  }
  return out;
}

}  // namespace ringpost::dkim_test
