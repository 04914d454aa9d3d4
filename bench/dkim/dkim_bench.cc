// Signing cost of one message as a signing worker pays it at acceptance (dkim::Signer::sign on
// a rendered message: split, body hash, header hash, signature), per algorithm and body size,
// next to the floors measured by the same harness, and libopendkim (the signer ringpost used
// before, tests/dkim_oracle) for comparison. Keys are generated at start-up.
//   BM_DkimSign/rsa2048/body:1024        ours, one thread
//   BM_DkimSign/rsa2048/body:1024/threads:2  ours, two threads with their own Signer sharing
//                                        the one parsed key (items/s is the total)
//   BM_DkimSignDual/rsa2048+ed25519/...  the recommended dual signature (RFC 8463 §5): one
//                                        body hash for both
//   BM_CryptoOnly/rsa2048                the signature alone over a 32-byte digest, key and
//                                        context ready: the floor for the signature step
//   BM_BodyHash/relaxed/body:102400      the body hash alone (SHA-256 of the canonical body)
//   BM_Opendkim/rsa2048/body:1024        libopendkim: parses the PEM key per signature
//   BM_KeyParse/rsa2048                  PEM_read_bio_PrivateKey, what libopendkim repeats
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dkim/body_hash.h"
#include "dkim/signer.h"
#include "dkim/signing_key.h"
#include "tests/dkim_oracle/opendkim_oracle.h"

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

template <typename SignerT>
void BM_Sign(benchmark::State& state, std::vector<ringpost::dkim::SignEntry> entries, std::size_t body) {
  const std::string msg = message(body);
  SignerT signer;  // per thread, as each signing worker has its own
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

// The signature step as dkim::Signer makes it, with the context set up once: RSA PKCS#1 v1.5
// over a SHA-256 digest; Ed25519 (PureEdDSA) over the 32-byte digest (RFC 8463 §3).
void BM_CryptoOnly(benchmark::State& state, const NamedKey& k) {
  EVP_PKEY* pkey = k.key->pkey.get();
  const unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  std::size_t len = 0;
  if (k.key->algorithm == Algorithm::ed25519_sha256) {
    EVP_MD_CTX* tmpl = EVP_MD_CTX_new();
    EVP_MD_CTX* work = EVP_MD_CTX_new();
    EVP_DigestSignInit(tmpl, nullptr, nullptr, nullptr, pkey);
    for (auto _ : state) {
      len = sizeof sig;
      EVP_MD_CTX_copy_ex(work, tmpl);
      EVP_DigestSign(work, sig, &len, digest, sizeof digest);
      benchmark::DoNotOptimize(len);
    }
    EVP_MD_CTX_free(work);
    EVP_MD_CTX_free(tmpl);
  } else {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(pkey, nullptr);
    EVP_PKEY_sign_init(pctx);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256());
    for (auto _ : state) {
      len = sizeof sig;
      EVP_PKEY_sign(pctx, sig, &len, digest, sizeof digest);
      benchmark::DoNotOptimize(len);
    }
    EVP_PKEY_CTX_free(pctx);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_BodyHash(benchmark::State& state, bool relaxed, std::size_t body) {
  const std::string msg = message(body);
  const std::string_view b = std::string_view(msg).substr(msg.find("\r\n\r\n") + 4);
  ringpost::dkim::BodyHasher h;
  for (auto _ : state) benchmark::DoNotOptimize(h.hash(b, !relaxed, relaxed));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.size()));
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
  using ringpost::dkim::Signer;
  using ringpost::dkim_test::OpendkimSigner;
  constexpr std::size_t kSizes[] = {1024, 10 * 1024, 100 * 1024};
  for (const NamedKey& k : keys()) {
    for (std::size_t body : kSizes) {
      benchmark::RegisterBenchmark(fmt::format("BM_DkimSign/{}/body:{}", k.name, body).c_str(), BM_Sign<Signer>,
                                   std::vector{entry(k)}, body)
          ->Unit(benchmark::kMicrosecond);
      if (body != 10 * 1024)
        benchmark::RegisterBenchmark(fmt::format("BM_Opendkim/{}/body:{}", k.name, body).c_str(), BM_Sign<OpendkimSigner>,
                                     std::vector{entry(k)}, body)
            ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(fmt::format("BM_DkimSign/{}/body:1024", k.name).c_str(), BM_Sign<Signer>,
                                 std::vector{entry(k)}, std::size_t{1024})
        ->Unit(benchmark::kMicrosecond)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(fmt::format("BM_CryptoOnly/{}", k.name).c_str(), BM_CryptoOnly, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("BM_KeyParse/{}", k.name).c_str(), BM_KeyParse, k)
        ->Unit(benchmark::kMicrosecond);
  }
  for (std::size_t body : kSizes) {
    benchmark::RegisterBenchmark(fmt::format("BM_DkimSignDual/rsa2048+ed25519/body:{}", body).c_str(), BM_Sign<Signer>,
                                 std::vector{entry(keys()[0]), entry(keys()[2])}, body)
        ->Unit(benchmark::kMicrosecond);
    for (bool relaxed : {false, true})
      benchmark::RegisterBenchmark(fmt::format("BM_BodyHash/{}/body:{}", relaxed ? "relaxed" : "simple", body).c_str(),
                                   BM_BodyHash, relaxed, body)
          ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::AddCustomContext("dkim", ringpost::dkim::library_version());
  benchmark::AddCustomContext("reference", ringpost::dkim_test::opendkim_version());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
