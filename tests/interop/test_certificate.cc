// openssl req -x509 for a throwaway server certificate.
#include "tests/interop/test_certificate.h"

#include <chrono>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "tests/interop/interop_paths.h"
#include "tests/interop/mx_server.h"

namespace ringpost::interop {

tl::expected<TlsFiles, std::string> make_test_certificate(const std::filesystem::path& dir,
                                                          const CertificateRequest& request,
                                                          const std::string& stem) {
  TlsFiles files{dir / (stem + ".crt.pem"), dir / (stem + ".key.pem")};
  std::set<std::string> dns(request.dns_names.begin(), request.dns_names.end());
  dns.insert(request.common_name);
  std::string san = "subjectAltName=";
  const char* sep = "";
  for (const auto& d : dns) san += fmt::format("{}DNS:{}", std::exchange(sep, ","), d);
  for (const auto& ip : request.ips) san += fmt::format("{}IP:{}", std::exchange(sep, ","), ip);
  std::vector<std::string> argv = {kOpenSsl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                   "-keyout", files.key_file.string(), "-out", files.cert_file.string(),
                                   "-days", std::to_string(request.days), "-subj", "/CN=" + request.common_name,
                                   "-addext", san};
  auto r = run_to_completion(std::move(argv), dir / (stem + ".openssl.out"), std::chrono::seconds(30));
  if (!r) return tl::unexpected("openssl req: " + r.error());
  return files;
}

}  // namespace ringpost::interop
