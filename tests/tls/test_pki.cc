// See test_pki.h.
#include "tests/tls/test_pki.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include <fmt/format.h>

namespace ringpost::tls::testing {
namespace {

struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct CertFree { void operator()(X509* c) const { X509_free(c); } };
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using Result = tl::expected<void, std::string>;

std::string errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

KeyPtr make_key(bool rsa) { return KeyPtr(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256")); }

Result add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return tl::unexpected(fmt::format("extension {}={}: {}", OBJ_nid2sn(nid), value, errors()));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return tl::unexpected(fmt::format("X509_add_ext: {}", errors()));
  return {};
}

// A v3 certificate for `key` named `cn`, valid from an hour ago (clock skew between test
// processes) for `days`, with a random serial. Extensions and signature come later.
tl::expected<CertPtr, std::string> new_cert(EVP_PKEY* key, const std::string& cn, int days) {
  CertPtr cert(X509_new());
  if (!cert) return tl::unexpected(errors());
  X509_set_version(cert.get(), X509_VERSION_3);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days);
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto text = [](const char* s) { return reinterpret_cast<const unsigned char*>(s); };
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, text("ringpost tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(cn.c_str()), -1, -1, 0);
  if (X509_set_pubkey(cert.get(), key) != 1) return tl::unexpected(errors());
  return cert;
}

Result sign(X509* cert, X509* issuer, EVP_PKEY* issuer_key) {
  if (X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1) return tl::unexpected(errors());
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) return tl::unexpected(fmt::format("X509_sign: {}", errors()));
  return {};
}

Result write_pem(const std::string& path, X509* c1, X509* c2, EVP_PKEY* key) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  if (!bio) return tl::unexpected(fmt::format("cannot write {}: {}", path, errors()));
  bool ok = true;
  if (c1) ok = ok && PEM_write_bio_X509(bio, c1) == 1;
  if (c2) ok = ok && PEM_write_bio_X509(bio, c2) == 1;
  if (key) ok = ok && PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  BIO_free(bio);
  if (!ok) return tl::unexpected(fmt::format("PEM write {}: {}", path, errors()));
  return {};
}

std::string san_of(const PkiOptions& o) {
  std::string san;
  for (const std::string& d : o.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const std::string& ip : o.ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  return san;
}

}  // namespace

tl::expected<PkiFiles, std::string> make_test_pki(const std::string& dir, const PkiOptions& o) {
  ERR_clear_error();
  PkiFiles files;
  files.server_cert = dir + "/server.crt";
  files.server_key = dir + "/server.key";
  files.server_chain = dir + "/server-chain.crt";

  std::string cn = o.common_name;
  if (cn.empty()) cn = !o.dns_names.empty() ? o.dns_names.front() : "server";
  if (cn == "server" && !o.ip_addresses.empty()) cn = o.ip_addresses.front();
  const std::string san = san_of(o);

  KeyPtr server_key = make_key(o.rsa);
  if (!server_key) return tl::unexpected(fmt::format("server key: {}", errors()));
  auto server = new_cert(server_key.get(), cn, o.valid_days);
  if (!server) return tl::unexpected(server.error());
  X509* leaf = server->get();

  if (o.self_signed) {
    // No basicConstraints CA:TRUE: like the self-signed certificates real MXes present.
    for (auto [nid, value] : {std::pair{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                              std::pair{NID_ext_key_usage, "serverAuth"}}) {
      if (auto r = add_ext(leaf, leaf, nid, value); !r) return tl::unexpected(r.error());
    }
    if (!san.empty())
      if (auto r = add_ext(leaf, leaf, NID_subject_alt_name, san); !r) return tl::unexpected(r.error());
    if (auto r = sign(leaf, leaf, server_key.get()); !r) return tl::unexpected(r.error());
    files.ca_cert = files.server_cert;
    if (auto r = write_pem(files.server_cert, leaf, nullptr, nullptr); !r) return tl::unexpected(r.error());
    if (auto r = write_pem(files.server_chain, leaf, nullptr, nullptr); !r) return tl::unexpected(r.error());
    if (auto r = write_pem(files.server_key, nullptr, nullptr, server_key.get()); !r) return tl::unexpected(r.error());
    return files;
  }

  files.ca_cert = dir + "/ca.crt";
  files.ca_key = dir + "/ca.key";
  KeyPtr ca_key = make_key(o.rsa);
  if (!ca_key) return tl::unexpected(fmt::format("CA key: {}", errors()));
  auto ca = new_cert(ca_key.get(), "ringpost test CA", o.valid_days);
  if (!ca) return tl::unexpected(ca.error());
  X509* root = ca->get();
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto r = add_ext(root, root, nid, value); !r) return tl::unexpected(r.error());
  }
  if (auto r = sign(root, root, ca_key.get()); !r) return tl::unexpected(r.error());

  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                            std::pair{NID_ext_key_usage, "serverAuth"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto r = add_ext(leaf, root, nid, value); !r) return tl::unexpected(r.error());
  }
  if (!san.empty())
    if (auto r = add_ext(leaf, root, NID_subject_alt_name, san); !r) return tl::unexpected(r.error());
  if (auto r = sign(leaf, root, ca_key.get()); !r) return tl::unexpected(r.error());

  if (auto r = write_pem(files.ca_cert, root, nullptr, nullptr); !r) return tl::unexpected(r.error());
  if (auto r = write_pem(files.ca_key, nullptr, nullptr, ca_key.get()); !r) return tl::unexpected(r.error());
  if (auto r = write_pem(files.server_cert, leaf, nullptr, nullptr); !r) return tl::unexpected(r.error());
  if (auto r = write_pem(files.server_chain, leaf, root, nullptr); !r) return tl::unexpected(r.error());
  if (auto r = write_pem(files.server_key, nullptr, nullptr, server_key.get()); !r) return tl::unexpected(r.error());
  return files;
}

}  // namespace ringpost::tls::testing
