// Signing cost of one message as the HTTP front pays it at acceptance (dkim::Signer::sign on a
// rendered message), per algorithm and body size, and the bare crypto floor measured by the
// same harness: one EVP_DigestSign of a SHA-256 digest with the same key (what libopendkim
// cannot go below). Single thread; keys are generated at start-up.
//   BM_DkimSign/rsa2048/body:1024        libopendkim: parse key + canonicalize + hash + sign
//   BM_DkimSignDual/rsa2048+ed25519/...  the recommended dual signature (RFC 8463 §5)
//   BM_CryptoOnly/rsa2048                EVP_PKEY_sign over a 32-byte digest, key pre-parsed
//   BM_KeyParse/rsa2048                  PEM_read_bio_PrivateKey: what libopendkim repeats for
//                                        every signature (dkim_privkey_load), with no API to
//                                        hand it a parsed key
//   BM_ParseAndSign/rsa2048              both, as libopendkim pays them: parse, then the first
//                                        signature with a fresh key (RSA builds its Montgomery
//                                        and blinding state on first use)
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dkim/signer.h"
#include "dkim/signing_key.h"

namespace {

using ringpost::dkim::Algorithm;

constexpr int64_t kNow = 1764100000;

struct NamedKey {
  std::string name;
  std::shared_ptr<const ringpost::dkim::SigningKey> key;
};

const std::vector<NamedKey>& keys() {
  static const std::vector<NamedKey> k = [] {
    std::vector<NamedKey> out;
    for (auto [name, alg, bits] : {std::tuple{"rsa2048", Algorithm::rsa_sha256, 2048u},
                                   std::tuple{"rsa1024", Algorithm::rsa_sha256, 1024u},
                                   std::tuple{"ed25519", Algorithm::ed25519_sha256, 0u}}) {
      auto pem = ringpost::dkim::generate_private_key_pem(alg, bits);
      auto key = pem ? ringpost::dkim::parse_signing_key(*pem) : tl::make_unexpected(pem.error());
      if (!key) {
        std::fprintf(stderr, "key generation failed: %s\n", key.error().c_str());
        std::exit(1);
      }
      out.push_back({name, std::make_shared<const ringpost::dkim::SigningKey>(std::move(*key))});
    }
    return out;
  }();
  return k;
}

ringpost::dkim::SignEntry entry(const NamedKey& k) {
  ringpost::dkim::SignEntry e;
  e.domain = "example.test";
  e.selector = k.name;
  e.key = k.key;
  e.headers = ringpost::dkim::default_signed_headers();
  e.oversign = ringpost::dkim::default_oversigned_headers();
  return e;
}

// A message as render_message makes it: the usual header fields, then `body_bytes` of 76-column
// quoted-printable-looking text lines.
std::string message(std::size_t body_bytes) {
  std::string m =
      "From: Alice <alice@example.test>\r\nTo: bob@dest.test\r\nSubject: Your November statement\r\n"
      "Date: Tue, 25 Nov 2025 19:08:07 +0000\r\nMessage-ID: <01M8A1QARMMN7GJ7ZYR0YJMVPT@mta.example.test>\r\n"
      "MIME-Version: 1.0\r\nList-Unsubscribe: <https://example.test/u/8f3a>\r\n"
      "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  const std::string line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te=\r\n";
  std::string body;
  while (body.size() + line.size() <= body_bytes) body += line;
  body.append(body_bytes - body.size() - 2, 'x');
  body += "\r\n";
  return m + body;
}

void BM_DkimSign(benchmark::State& state, std::vector<ringpost::dkim::SignEntry> entries, std::size_t body) {
  const std::string msg = message(body);
  ringpost::dkim::Signer signer;
  for (auto _ : state) {
    auto sig = signer.sign(msg, entries, kNow);
    if (!sig) {
      state.SkipWithError(sig.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(sig->data());
  }
  state.SetItemsProcessed(state.iterations());  // signed messages
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

EVP_PKEY* parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return pkey;
}

// RSA: PKCS#1 v1.5 over the SHA-256 of the canonical header data; Ed25519: PureEdDSA over the
// 32-byte SHA-256 (RFC 8463 §3). Over a fixed digest: the hashing is in BM_DkimSign.
std::size_t sign_digest(EVP_PKEY* pkey, bool ed, unsigned char (&sig)[512]) {
  static const unsigned char digest[32] = {1, 2, 3};
  std::size_t len = sizeof sig;
  if (ed) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey);
    EVP_DigestSign(ctx, sig, &len, digest, sizeof digest);
    EVP_MD_CTX_free(ctx);
  } else {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(pkey, nullptr);
    EVP_PKEY_sign_init(pctx);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256());
    EVP_PKEY_sign(pctx, sig, &len, digest, sizeof digest);
    EVP_PKEY_CTX_free(pctx);
  }
  return len;
}

void BM_CryptoOnly(benchmark::State& state, const NamedKey& k) {
  EVP_PKEY* pkey = parse(k.key->private_pem);
  const bool ed = k.key->algorithm == Algorithm::ed25519_sha256;
  unsigned char sig[512];
  for (auto _ : state) benchmark::DoNotOptimize(sign_digest(pkey, ed, sig));
  EVP_PKEY_free(pkey);
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseAndSign(benchmark::State& state, const NamedKey& k) {
  const bool ed = k.key->algorithm == Algorithm::ed25519_sha256;
  unsigned char sig[512];
  for (auto _ : state) {
    EVP_PKEY* pkey = parse(k.key->private_pem);
    benchmark::DoNotOptimize(sign_digest(pkey, ed, sig));
    EVP_PKEY_free(pkey);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_KeyParse(benchmark::State& state, const NamedKey& k) {
  for (auto _ : state) {
    EVP_PKEY* pkey = parse(k.key->private_pem);
    benchmark::DoNotOptimize(pkey);
    EVP_PKEY_free(pkey);
  }
  state.SetItemsProcessed(state.iterations());
}

int register_all() {
  for (const NamedKey& k : keys()) {
    for (std::size_t body : {std::size_t{1024}, std::size_t{100 * 1024}})
      benchmark::RegisterBenchmark(fmt::format("BM_DkimSign/{}/body:{}", k.name, body).c_str(), BM_DkimSign,
                                   std::vector{entry(k)}, body)
          ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("BM_CryptoOnly/{}", k.name).c_str(), BM_CryptoOnly, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("BM_KeyParse/{}", k.name).c_str(), BM_KeyParse, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("BM_ParseAndSign/{}", k.name).c_str(), BM_ParseAndSign, k)
        ->Unit(benchmark::kMicrosecond);
  }
  for (std::size_t body : {std::size_t{1024}, std::size_t{100 * 1024}})
    benchmark::RegisterBenchmark(fmt::format("BM_DkimSignDual/rsa2048+ed25519/body:{}", body).c_str(), BM_DkimSign,
                                 std::vector{entry(keys()[0]), entry(keys()[2])}, body)
        ->Unit(benchmark::kMicrosecond);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::AddCustomContext("dkim", ringpost::dkim::library_version());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
