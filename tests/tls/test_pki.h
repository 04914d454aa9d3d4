// Test-time PKI: a fresh CA and a server certificate it signs (or a self-signed one), made with
// the OpenSSL API and written as PEM files, so TLS tests never depend on checked-in keys or on
// the openssl binary. Test code only; any thread, no shared state. Link `ringpost_test_pki`.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::tls::testing {

struct PkiOptions {
  std::vector<std::string> dns_names{"mx.test"};  // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;          // subjectAltName IP entries: "127.0.0.1", "::1"
  std::string common_name;                        // empty = first DNS name, else first IP
  bool self_signed = false;  // the server certificate signs itself; no CA is made
  bool rsa = false;          // RSA-2048 keys instead of ECDSA P-256 (slower to generate)
  int valid_days = 7;
};

// Paths of the PEM files written into `dir` (which must exist).
struct PkiFiles {
  std::string ca_cert;       // the trust anchor to configure in a client (= server_cert when self-signed)
  std::string ca_key;        // empty when self-signed
  std::string server_cert;   // leaf only
  std::string server_key;
  std::string server_chain;  // leaf followed by the CA (what most servers want as "cert file")
};

tl::expected<PkiFiles, std::string> make_test_pki(const std::string& dir, const PkiOptions& options = {});

}  // namespace ringpost::tls::testing
