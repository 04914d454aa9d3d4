// The server every tests/security case talks to: `ringpost serve` with four API keys (two
// tenants, one sub-domain-only key, an admin), an admin token, a DKIM key for the other tenant,
// small API limits, and a Postfix smtp-sink as the route for sink.test. Started once per test
// binary (SetUpTestSuite), since every case leaves the server as it found it: a refused request
// spools nothing, and that is what each case asserts. Test thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/ringpost_server.h"
#include "tests/integration/smtp_sink.h"
#include "tests/integration/temp_dir.h"

namespace ringpost::security_test {

// Tokens of the fixture's keys (their SHA-256 is in the config).
inline constexpr std::string_view kAlpha = "rp_alpha_tenant_token_0123456789abcdef";   // example.test, *.agents.example.test
inline constexpr std::string_view kBeta = "rp_beta_tenant_token_0123456789abcdef";     // other-tenant.test
inline constexpr std::string_view kSubOnly = "rp_subonly_token_0123456789abcdef";      // *.other-tenant.test
inline constexpr std::string_view kAdmin = "rp_admin_key_token_0123456789abcdef";      // role admin
inline constexpr std::string_view kAdminToken = "admin-token-for-security-tests-0123456789";

struct RawResponse {
  int status = 0;
  std::string body;
  std::string headers;  // the raw header block, for Retry-After and friends
  bool closed = false;  // the server closed the connection after answering
};

// One request's bytes on a fresh connection from `source` (127.0.0.x); the first response.
RawResponse exchange(uint16_t port, std::string_view bytes, std::string_view source = "127.0.0.1");

// A POST with Content-Length; `headers` are full lines, each ending "\r\n".
std::string post(std::string_view path, std::string_view body, std::string_view headers,
                 std::string_view content_type = "application/json");
std::string get(std::string_view path, std::string_view headers);
std::string auth(std::string_view token);  // "Authorization: Bearer <token>\r\n"

// The "error.code" of a JSON error body ("" when absent).
std::string error_code(std::string_view body);

class SecurityServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static uint16_t port();
  // Recipients the server has accepted so far (GET /v1/stats with the admin key).
  static int64_t recipients_accepted();
  static it::SmtpSink& sink();
  static const std::filesystem::path& dir();

  // Asserts a refusal: the status and error code, that nothing was spooled, and that the
  // server still answers the next request (GET /healthz on a new connection).
  static void expect_refused(std::string_view request, int status, std::string_view code);
};

}  // namespace ringpost::security_test
