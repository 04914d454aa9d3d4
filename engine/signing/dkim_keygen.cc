// See dkim_keygen.h. The key file is created with O_EXCL and mode 0600 before any byte is
// written, so the private key is never readable by others, not even for a moment.
#include "engine/signing/dkim_keygen.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "dkim/sign_entry.h"
#include "dkim/signing_key.h"

namespace ringpost::engine {
namespace {

tl::expected<void, std::string> write_new_file(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return tl::make_unexpected(errno == EEXIST
                                   ? fmt::format("{} already exists; remove it or choose another --selector", path.string())
                                   : fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return tl::make_unexpected(fmt::format("cannot write {}: {}", path.string(), std::strerror(e)));
    }
    done += static_cast<std::size_t>(n);
  }
  // A key that vanishes in a crash after the record was published would be worse than none.
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return tl::make_unexpected(fmt::format("cannot sync {}: {}", path.string(), std::strerror(errno)));
  return {};
}

}  // namespace

int run_dkim_keygen(const DkimKeygenOptions& opts) {
  auto fail = [](const std::string& why) {
    fmt::print(stderr, "ringpost dkim keygen: {}\n", why);
    return 1;
  };
  std::string domain = opts.domain;
  for (char& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (domain.ends_with('.')) domain.pop_back();
  if (!dkim::is_dns_name(domain)) return fail(fmt::format("--domain '{}' is not a domain name", opts.domain));
  if (!dkim::is_dns_name(opts.selector))
    return fail(fmt::format("--selector '{}' is not a DNS label such as \"s2024\"", opts.selector));
  dkim::Algorithm alg;
  if (opts.algorithm == "ed25519" || opts.algorithm == "ed25519-sha256") alg = dkim::Algorithm::ed25519_sha256;
  else if (opts.algorithm == "rsa" || opts.algorithm == "rsa-sha256") alg = dkim::Algorithm::rsa_sha256;
  else return fail(fmt::format("--algorithm '{}' is not \"ed25519\" or \"rsa\"", opts.algorithm));
  if (alg == dkim::Algorithm::ed25519_sha256 && opts.bits_given)
    return fail("--bits applies to RSA keys only; Ed25519 keys are always 256 bits");

  auto pem = dkim::generate_private_key_pem(alg, opts.bits);
  if (!pem) return fail(pem.error());
  // Parsed back through the same path the config loader uses: what is written is loadable.
  auto key = dkim::parse_signing_key(*pem, alg);
  if (!key) return fail(fmt::format("generated key does not load: {}", key.error()));

  std::error_code ec;
  const std::filesystem::path dir(opts.out_dir);
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  const std::filesystem::path path = dir / fmt::format("{}.{}.pem", opts.selector, domain);
  if (auto w = write_new_file(path, *pem); !w) return fail(w.error());

  fmt::print("{}\n", dkim::dns_txt_record(domain, opts.selector, *key));
  std::fflush(stdout);
  const std::filesystem::path abs = std::filesystem::absolute(path, ec);
  fmt::print(stderr,
             "wrote {} ({} key{}, mode 0600)\n"
             "publish the TXT record above, then add to the config:\n"
             "[[dkim.\"{}\"]]\nselector = \"{}\"\nkey_file = \"{}\"\nalgorithm = \"{}\"\n",
             abs.string(), alg == dkim::Algorithm::rsa_sha256 ? "RSA" : "Ed25519",
             alg == dkim::Algorithm::rsa_sha256 ? fmt::format(", {} bits", key->bits) : "", domain, opts.selector,
             abs.string(), dkim::to_string(alg));
  return 0;
}

}  // namespace ringpost::engine
