// Test support for DKIM: keys made by the openssl command line (not by our own keygen, so a bug
// there cannot hide), and two verifiers that share no code with libopendkim or each other —
// dkimpy (python3-dkim) and Perl Mail::DKIM — run as child processes over message files.
// Owned by the test thread; keys are made once per process under one temporary directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <tl/expected.hpp>

#include "dkim/sign_entry.h"
#include "dkim/signing_key.h"

namespace ringpost::dkim_test {

struct TestKey {
  std::string name;               // "rsa2048", "rsa1024", "ed25519"
  std::filesystem::path pem_path;
  std::string openssl_p;          // p= as derived by `openssl pkey -pubout`, independently of dkim/
  std::shared_ptr<const dkim::SigningKey> key;  // parsed by dkim::parse_signing_key
};

// Made on first use with `openssl genpkey`; a failure aborts the test that asked.
const TestKey& rsa2048();
const TestKey& rsa1024();
const TestKey& ed25519();

// A process-wide scratch directory (removed at exit).
const std::filesystem::path& scratch_dir();

// Runs /usr/bin/openssl with `args`; its output, or why it failed.
tl::expected<std::string, std::string> run_openssl(const std::vector<std::string>& args);
std::string read_file(const std::filesystem::path& path);

// "v=DKIM1; k=rsa; p=..." from the openssl-derived public key.
std::string txt_value(const TestKey& key);

dkim::SignEntry make_entry(std::string domain, std::string selector, const TestKey& key,
                           dkim::Canonicalization canon = {});

enum class Verifier { dkimpy, mail_dkim };
std::string_view verifier_name(Verifier v);

struct SignatureVerdict {
  int index = 0;
  std::string domain, selector, algorithm, result, detail;
};

struct MessageVerdict {
  int declared = -1;  // the verifier's count of DKIM-Signature fields
  std::vector<SignatureVerdict> signatures;
  bool all_pass() const;   // at least one signature, and every one passes
  bool none_pass() const;  // no signature passes (a message without any counts too)
  std::string describe() const;
};

// Where the verifier gets public keys: (name, value) TXT overrides, or a DNS server "ip:port".
struct KeySource {
  std::vector<std::pair<std::string, std::string>> txt;
  std::string dns;
};

// The TXT override for `key` published at selector._domainkey.domain.
std::pair<std::string, std::string> txt_record(const std::string& domain, const std::string& selector,
                                               const TestKey& key);

// Runs one verifier over several messages (one child process); one verdict per message.
tl::expected<std::vector<MessageVerdict>, std::string> run_verifier(Verifier v, const std::vector<std::string>& messages,
                                                                    const KeySource& keys);

// A copy of `message` with one letter of the Subject value (or, without Subject, of the From
// value) changed, past any DKIM-Signature fields; relaxed canonicalization does not hide it.
std::string tamper_header(const std::string& message);
// A copy with one letter or digit of the body changed (or a line added to an empty body).
std::string tamper_body(const std::string& message);

// The signed message verifies with both verifiers (every one of `expected_signatures`
// signatures passes), and its header- and body-tampered copies fail with both (no signature
// passes). Explains every verdict on failure.
::testing::AssertionResult verified_by_both(const std::string& signed_message, const KeySource& keys,
                                            int expected_signatures);

// LF → CRLF, for messages read back from smtp-sink's dump (which writes LF line ends).
std::string to_crlf(std::string_view lf_text);

}  // namespace ringpost::dkim_test
