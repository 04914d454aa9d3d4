// A self-signed server certificate made at test time with the openssl CLI, for the MX servers'
// STARTTLS. The certificate is its own trust anchor: a client that loads it as the CA file and
// checks the name verifies the server for real (subjectAltName holds the DNS names and the IPs).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/interop/mx_options.h"

namespace ringpost::interop {

struct CertificateRequest {
  std::string common_name = "mx.test";
  std::vector<std::string> dns_names;  // subjectAltName DNS entries (common_name is added)
  std::vector<std::string> ips;        // subjectAltName IP entries, e.g. "127.0.0.2"
  int days = 7;
};

// Writes <dir>/<stem>.crt.pem and <dir>/<stem>.key.pem (RSA 2048, unencrypted).
tl::expected<TlsFiles, std::string> make_test_certificate(const std::filesystem::path& dir,
                                                          const CertificateRequest& request,
                                                          const std::string& stem = "server");

}  // namespace ringpost::interop
