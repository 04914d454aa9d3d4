// Shared setup for the TLS tests: the PKI (made once per test binary in a temp dir, removed at
// exit), client contexts, and an in-memory client/server connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tls/client_context.h"
#include "engine/tls/tls_engine.h"
#include "tests/tls/memory_server.h"
#include "tests/tls/test_pki.h"

namespace ringpost::tls::testing {

struct TestPki {
  std::string dir;
  PkiFiles mx;           // CA + server for mx.test, 127.0.0.1 and ::1
  PkiFiles other;        // an unrelated CA (and its server)
  PkiFiles self_signed;  // self-signed mx.test
};
const TestPki& pki();

// ClientContext::make that aborts the test binary on failure (setup, not the code under test).
ClientContext make_client_ctx(bool verify, const std::string& ca_file, std::string min = "TLSv1.2",
                              std::string max = "");

// One in-memory connection: our engine as client, an OpenSSL server, and the link between.
struct Conn {
  std::unique_ptr<TlsEngine> client;
  std::unique_ptr<MemoryTlsServer> server;
  std::unique_ptr<Link> link;
};
Conn connect(SSL_CTX* client_ctx, SSL_CTX* server_ctx, const std::string& host, SSL_SESSION* resume = nullptr,
             std::vector<std::size_t> pieces = {1u << 20});

// Plaintext transfer helpers that pump as needed. client_writes: sizes of successive write()
// calls (cycled). Return what the far side received.
std::string client_to_server(Conn& c, std::string_view data, const std::vector<std::size_t>& client_writes);
std::string server_to_client(Conn& c, std::string_view data, const std::vector<std::size_t>& server_writes);

std::string pattern(std::size_t n, unsigned seed);  // deterministic, non-repeating-ish bytes

}  // namespace ringpost::tls::testing
