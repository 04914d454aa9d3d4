// Cases that need more than one request or a look at the far side: what must still be accepted
// (the string form of a display name, a lower-case "bearer", UTF-8 without the flag), one key
// never reading another's message, DKIM never signing outside the submitting key's
// allowed_from (checked at the sink), /metrics for admins, and the failed-authentication
// throttle on a server of its own.
#include <chrono>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"
#include "tests/security/security_fixture.h"

namespace ringpost::security_test {
namespace {

using namespace std::chrono_literals;

std::string id_of(std::string_view body) {
  const std::size_t p = body.find("\"id\":\"");
  if (p == std::string_view::npos) return {};
  const std::size_t e = body.find('"', p + 6);
  return std::string(body.substr(p + 6, e - p - 6));
}

// The sink's copy of the message whose Subject is `subject` ("" content when none yet).
std::string received_with_subject(it::SmtpSink& sink, std::string_view subject) {
  std::string found;
  it::wait_until(20s, 50ms, [&] {
    for (const auto& m : sink.messages())
      if (m.content.find(fmt::format("Subject: {}", subject)) != std::string::npos) {
        found = m.content;
        return true;
      }
    return false;
  });
  return found;
}

class Isolation : public SecurityServer {};

TEST_F(Isolation, DisplayNameStringFormIsAccepted) {
  const RawResponse r = exchange(
      port(), post("/v1/messages",
                   R"({"from":"Ann Lee <ann@example.test>","to":["\"Doe, Bob\" <bob@sink.test>"],"subject":"strform","text":"t"})",
                   auth(kAlpha)));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string got = received_with_subject(sink(), "strform");
  ASSERT_FALSE(got.empty()) << sink().describe();
  EXPECT_NE(got.find("From: Ann Lee <ann@example.test>"), std::string::npos) << got;
  EXPECT_NE(got.find("\"Doe, Bob\" <bob@sink.test>"), std::string::npos) << got;
}

TEST_F(Isolation, BearerSchemeIsCaseInsensitive) {
  for (const char* scheme : {"bearer", "BEARER", "Bearer"}) {
    const RawResponse r = exchange(port(), get("/v1/stats", fmt::format("Authorization: {} {}\r\n", scheme, kAdmin)));
    EXPECT_EQ(r.status, 200) << scheme << ": " << r.body;
  }
}

TEST_F(Isolation, OneKeyCannotReadAnothersMessage) {
  const RawResponse sent = exchange(
      port(), post("/v1/messages", R"({"from":"b@other-tenant.test","to":["x@sink.test"],"subject":"beta","text":"t"})", auth(kBeta)));
  ASSERT_EQ(sent.status, 202) << sent.body;
  const std::string id = id_of(sent.body);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exchange(port(), get("/v1/messages/" + id, auth(kBeta))).status, 200);
  const RawResponse other = exchange(port(), get("/v1/messages/" + id, auth(kAlpha)));
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(error_code(other.body), "not_found");
  EXPECT_EQ(exchange(port(), get("/v1/messages/" + id, auth(kAdmin))).status, 200);
}

// The DKIM entry for other-tenant.test signs its sub-domains with d=other-tenant.test. The
// sub-domain-only key may send as x.other-tenant.test but not as other-tenant.test itself,
// so its message must go out unsigned; the tenant's own key gets the signature.
TEST_F(Isolation, DkimSignsOnlyWithinTheSubmittingKeysDomains) {
  const RawResponse sub = exchange(
      port(), post("/v1/messages", R"({"from":"a@x.other-tenant.test","to":["x@sink.test"],"subject":"subonly","text":"t"})",
                   auth(kSubOnly)));
  ASSERT_EQ(sub.status, 202) << sub.body;
  const RawResponse own = exchange(
      port(), post("/v1/messages", R"({"from":"a@other-tenant.test","to":["x@sink.test"],"subject":"owner","text":"t"})",
                   auth(kBeta)));
  ASSERT_EQ(own.status, 202) << own.body;
  const std::string unsigned_copy = received_with_subject(sink(), "subonly");
  const std::string signed_copy = received_with_subject(sink(), "owner");
  ASSERT_FALSE(unsigned_copy.empty()) << sink().describe();
  ASSERT_FALSE(signed_copy.empty()) << sink().describe();
  EXPECT_EQ(unsigned_copy.find("DKIM-Signature:"), std::string::npos) << unsigned_copy;
  EXPECT_NE(signed_copy.find("DKIM-Signature:"), std::string::npos) << signed_copy;
  EXPECT_NE(signed_copy.find("d=other-tenant.test"), std::string::npos) << signed_copy;
}

TEST_F(Isolation, Utf8IsDetectedWithoutTheFlag) {
  const RawResponse r = exchange(
      port(), post("/v1/messages", R"({"from":"a@example.test","to":["jörg@sink.test"],"subject":"utf8","text":"t"})", auth(kAlpha)));
  EXPECT_EQ(r.status, 202) << r.body;
  const RawResponse raw = exchange(
      port(), post("/v1/messages", R"({"from":"a@example.test","to":["x@sink.test"],"raw":"From: a@example.test\r\nSubject: Grüße\r\n\r\nb"})",
                   auth(kAlpha)));
  EXPECT_EQ(raw.status, 202) << raw.body;
}

TEST_F(Isolation, MetricsNeedAnAdminIdentity) {
  const RawResponse key = exchange(port(), get("/metrics", auth(kAdmin)));
  EXPECT_EQ(key.status, 200);
  EXPECT_NE(key.body.find("ringpost_limit_hits_total"), std::string::npos);
  EXPECT_EQ(exchange(port(), get("/metrics", auth(kAdminToken))).status, 200);
}

// The default throttle: 20 failures a minute per address, then 429 for that address, even
// with a valid key; another address is not affected. A server of its own, so the other cases'
// failures do not count.
class AuthThrottleE2E : public it::ServerTest {};

TEST_F(AuthThrottleE2E, TwentyFailuresThen429ForThatAddressOnly) {
  auto ports = it::pick_free_ports(1);
  ASSERT_TRUE(ports);
  it::ServerConfig cfg;
  cfg.http_port = (*ports)[0];
  cfg.extra_toml = fmt::format("[[keys]]\nname = \"ops\"\nsha256 = \"{}\"\nrole = \"admin\"\n",
                               "65b2a0af6f6c2ed4a1f1c6d0a3c4f0a5d7e9b1c3e5f7a9b1d3e5f7a9b1c3d5e7");
  // The sha256 above is of no known token: every request with a token fails authentication.
  auto server = it::RingpostServer::start(dir_.path(), cfg);
  ASSERT_TRUE(server) << server.error();
  for (int i = 0; i < 20; ++i) {
    const RawResponse r = exchange(server->port(), get("/v1/stats", auth("rp_guess")), "127.0.0.3");
    ASSERT_EQ(r.status, 401) << "attempt " << i + 1 << ": " << r.body;
  }
  const RawResponse throttled = exchange(server->port(), get("/v1/stats", auth("rp_guess")), "127.0.0.3");
  EXPECT_EQ(throttled.status, 429) << throttled.body;
  EXPECT_EQ(error_code(throttled.body), "auth_throttled");
  EXPECT_NE(throttled.headers.find("Retry-After: "), std::string::npos) << throttled.headers;
  // Another address still gets a plain 401 (it has failed once, not twenty times).
  EXPECT_EQ(exchange(server->port(), get("/v1/stats", auth("rp_guess")), "127.0.0.4").status, 401);
  // /healthz needs no key and is never throttled.
  EXPECT_EQ(exchange(server->port(), get("/healthz", ""), "127.0.0.3").status, 200);
  // The refusal is logged (once a minute) with the count.
  EXPECT_TRUE(it::wait_until(5s, 20ms, [&] {
    return server->process().output().find("auth throttle: ") != std::string::npos;
  })) << server->process().output();
}

}  // namespace
}  // namespace ringpost::security_test
