// See tls_fixture.h.
#include "tests/tls/tls_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace ringpost::tls::testing {
namespace {

struct PkiHolder {
  TestPki pki;
  PkiHolder() {
    std::string tmpl = ::testing::TempDir() + "ringpost-tls-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    pki.dir = tmpl;
    auto sub = [&](const char* name) {
      std::string d = pki.dir + "/" + name;
      std::filesystem::create_directory(d);
      return d;
    };
    auto check = [](tl::expected<PkiFiles, std::string> r) {
      if (!r) {
        std::fprintf(stderr, "test PKI: %s\n", r.error().c_str());
        std::abort();
      }
      return *r;
    };
    PkiOptions mx;
    mx.dns_names = {"mx.test"};
    mx.ip_addresses = {"127.0.0.1", "::1"};
    pki.mx = check(make_test_pki(sub("mx"), mx));
    pki.other = check(make_test_pki(sub("other"), PkiOptions{}));
    PkiOptions ss;
    ss.self_signed = true;
    pki.self_signed = check(make_test_pki(sub("self"), ss));
  }
  ~PkiHolder() {
    std::error_code ec;
    std::filesystem::remove_all(pki.dir, ec);
  }
};

}  // namespace

const TestPki& pki() {
  static PkiHolder holder;
  return holder.pki;
}

ClientContext make_client_ctx(bool verify, const std::string& ca_file, std::string min, std::string max) {
  ClientTlsOptions o;
  o.verify = verify;
  o.ca_file = ca_file;
  o.min_protocol = std::move(min);
  o.max_protocol = std::move(max);
  auto ctx = ClientContext::make(o);
  if (!ctx) {
    std::fprintf(stderr, "client ctx: %s\n", ctx.error().c_str());
    std::abort();
  }
  return std::move(*ctx);
}

Conn connect(SSL_CTX* client_ctx, SSL_CTX* server_ctx, const std::string& host, SSL_SESSION* resume,
             std::vector<std::size_t> pieces) {
  Conn c;
  auto e = TlsEngine::client(client_ctx, host, resume);
  if (!e) {
    ADD_FAILURE() << "TlsEngine::client: " << e.error();
    return c;
  }
  c.client = std::move(*e);
  c.server = std::make_unique<MemoryTlsServer>(server_ctx);
  c.link = std::make_unique<Link>(*c.client, *c.server, std::move(pieces));
  return c;
}

std::string client_to_server(Conn& c, std::string_view data, const std::vector<std::size_t>& client_writes) {
  std::string got;
  std::size_t off = 0, i = 0;
  int stuck = 0;
  while ((off < data.size() || got.size() < data.size()) && stuck < 3) {
    if (off < data.size()) {
      std::size_t written = 0;
      const std::size_t n = std::min(data.size() - off, client_writes[i++ % client_writes.size()]);
      const TlsEngine::Status st = c.client->write(data.substr(off, n), written);
      EXPECT_TRUE(st == TlsEngine::Status::ok || st == TlsEngine::Status::want_io) << to_string(st);
      if (st == TlsEngine::Status::error || st == TlsEngine::Status::closed) break;
      off += written;
    }
    const std::size_t before = got.size();
    const std::size_t moved = c.link->pump();
    c.server->read(got);
    stuck = (moved == 0 && got.size() == before) ? stuck + 1 : 0;
  }
  return got;
}

std::string server_to_client(Conn& c, std::string_view data, const std::vector<std::size_t>& server_writes) {
  std::string got;
  std::size_t off = 0, i = 0;
  int stuck = 0;
  while ((off < data.size() || got.size() < data.size()) && stuck < 3) {
    if (off < data.size()) {
      const std::size_t n = std::min(data.size() - off, server_writes[i++ % server_writes.size()]);
      off += c.server->write(data.substr(off, n));
    }
    const std::size_t before = got.size();
    const std::size_t moved = c.link->pump();
    const TlsEngine::Status st = c.client->read(got);
    EXPECT_TRUE(st == TlsEngine::Status::ok || st == TlsEngine::Status::want_io) << to_string(st);
    if (st == TlsEngine::Status::error || st == TlsEngine::Status::closed) break;
    stuck = (moved == 0 && got.size() == before) ? stuck + 1 : 0;
  }
  return got;
}

std::string pattern(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& ch : s) ch = static_cast<char>(rng());
  return s;
}

}  // namespace ringpost::tls::testing
