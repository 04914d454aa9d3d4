// Self-tests of the interop harness, runnable without ringpost: each real MX (Postfix, Exim,
// OpenSMTPD) must offer exactly the EHLO keywords it was configured with, treat commands written
// ahead as documented in mx_options.h, deliver to disk exactly what an independent client
// (python smtplib) sent, and leave nothing running once destroyed. If these fail, the interop
// tests' verdicts mean nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/temp_dir.h"
#include "tests/interop/require_server.h"
#include "tests/interop/exim_mx.h"
#include "tests/interop/opensmtpd_mx.h"
#include "tests/interop/postfix_mx.h"
#include "tests/interop/smtp_probe.h"
#include "tests/interop/test_certificate.h"

namespace ringpost::interop {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Expect {
  bool starttls = false;
  bool chunking = false;
  bool pipelining = false;
};

// A certificate for `ip` (the probe connects by IP, so the name check is against IP SANs).
TlsFiles make_cert(const it::TempDir& dir, const std::string& host, const std::string& ip) {
  auto cert = make_test_certificate(dir.path(), {.common_name = host, .dns_names = {}, .ips = {ip}});
  EXPECT_TRUE(cert) << cert.error();
  return cert ? *cert : TlsFiles{};
}

// The harness contract, for any server: EHLO offers what was configured (after STARTTLS when
// TLS is on), three messages sent with smtplib are three files on disk, with the subjects,
// Message-IDs, recipient and dot-stuffed body line the client sent, and a Received header
// saying whether the session was encrypted.
void check_three_messages(MxServer& mx, Expect expect, const fs::path& cafile) {
  const std::string rcpt = "Alice.Example@" + mx.domains().front();
  ProbeRequest req;
  req.recipients = {rcpt};
  req.count = 3;
  req.subject = "harness " + mx.kind();
  req.starttls = expect.starttls;
  req.cafile = cafile;
  auto r = probe_smtp(mx, req);
  ASSERT_TRUE(r) << r.error() << "\n" << mx.describe();

  EXPECT_EQ(r->ehlo_keywords.count("STARTTLS"), expect.starttls ? 1u : 0u) << r->output;
  const auto& kw = expect.starttls ? r->tls_ehlo_keywords : r->ehlo_keywords;
  EXPECT_EQ(kw.count("CHUNKING"), expect.chunking ? 1u : 0u) << r->output;
  EXPECT_EQ(kw.count("PIPELINING"), expect.pipelining ? 1u : 0u) << r->output;
  if (expect.starttls) {
    EXPECT_FALSE(r->tls_version.empty()) << r->output;
    EXPECT_EQ(r->tls_ehlo_keywords.count("STARTTLS"), 0u) << "STARTTLS offered again inside TLS";
    // Before TLS the keywords must be the same as after, except STARTTLS itself.
    auto before = r->ehlo_keywords;
    before.erase("STARTTLS");
    EXPECT_EQ(before.count("CHUNKING"), expect.chunking ? 1u : 0u);
  }
  ASSERT_EQ(r->message_ids.size(), 3u) << r->output;

  ASSERT_TRUE(mx.wait_for_delivered(3, 20s)) << mx.describe();
  EXPECT_EQ(mx.delivered_count(), 3) << mx.describe();
  auto msgs = mx.received_messages();
  ASSERT_EQ(msgs.size(), 3u);
  std::set<std::string> subjects, ids;
  for (const auto& m : msgs) {
    subjects.insert(m.header("Subject"));
    ids.insert(m.header("Message-ID"));
    EXPECT_EQ(m.recipient, rcpt) << m.content;
    EXPECT_NE(m.body().find("\n.leading dot line\n"), std::string::npos) << "dot-stuffing lost: " << m.content;
    std::string received = lower(m.header("Received"));
    EXPECT_NE(received.find(lower(mx.hostname())), std::string::npos) << m.content;
    bool esmtps = received.find("with esmtps") != std::string::npos;
    EXPECT_EQ(esmtps, expect.starttls) << "Received: " << m.header("Received");
  }
  std::string s = "harness " + mx.kind();
  EXPECT_EQ(subjects, (std::set<std::string>{s + " 1", s + " 2", s + " 3"}));
  EXPECT_EQ(ids, std::set<std::string>(r->message_ids.begin(), r->message_ids.end()));
}

// Writes commands ahead of the server's replies (see ProbeRequest::PipelineAnyway) and checks
// whether the server refused (5xx/4xx or hang-up) or served them. Refusal is what lets interop
// tests catch a client that pipelines where it must not; a refused transaction is not delivered.
// What each server checks (asserted below, so a package update that changes it is noticed):
//   MAIL+RCPT together, PIPELINING off:   Exim and OpenSMTPD refuse; Postfix 3.7 serves it.
//   content before DATA's 354:            refused by all three with PIPELINING off; with it on,
//                                         Postfix (smtpd_forbid_unauth_pipelining) refuses and
//                                         Exim serves it.
void check_pipelining(MxServer& mx, ProbeRequest::PipelineAnyway mode, bool expect_refused) {
  const int before = mx.delivered_count();
  ProbeRequest req;
  req.pipeline_anyway = mode;
  auto r = probe_smtp(mx, req);
  ASSERT_TRUE(r) << r.error() << "\n" << mx.describe();
  bool refused = r->pipelined_closed ||
                 std::any_of(r->pipelined_reply_codes.begin(), r->pipelined_reply_codes.end(),
                             [](int c) { return c >= 400; });
  EXPECT_EQ(refused, expect_refused) << r->output << "\n" << mx.describe();
  if (!expect_refused && mode == ProbeRequest::PipelineAnyway::kMailRcpt) {
    EXPECT_EQ(r->pipelined_reply_codes, (std::vector<int>{250, 250})) << r->output;
  }
  if (expect_refused) {
    // A refused transaction must not have been delivered after all (give a stray delivery time).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(mx.delivered_count(), before) << mx.describe();
  } else if (mode == ProbeRequest::PipelineAnyway::kWholeTransaction) {
    EXPECT_TRUE(mx.wait_for_delivered(before + 1)) << mx.describe();
  }
}

using Pipe = ProbeRequest::PipelineAnyway;

// --- Postfix ---------------------------------------------------------------------------------

TEST(PostfixMx, PlainOffersChunkingAndPipelining) {
  REQUIRE_SERVER(PostfixMx);
  auto mx = PostfixMx::start();
  ASSERT_TRUE(mx) << mx.error();
  EXPECT_EQ((*mx)->host(), "127.0.0.2");
  check_three_messages(**mx, {.starttls = false, .chunking = true, .pipelining = true}, {});
  check_pipelining(**mx, Pipe::kMailRcpt, /*expect_refused=*/false);
  check_pipelining(**mx, Pipe::kWholeTransaction, /*expect_refused=*/true);
}

TEST(PostfixMx, StartTlsWithoutChunkingOrPipelining) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  auto cert = make_cert(certs, "mx.postfix.test", PostfixMx::kDefaultIp);
  auto mx = PostfixMx::start({.tls = cert, .chunking = false, .pipelining = false});
  ASSERT_TRUE(mx) << mx.error();
  check_three_messages(**mx, {.starttls = true, .chunking = false, .pipelining = false}, cert.cert_file);
  // Postfix 3.7 does not refuse MAIL+RCPT written together when it did not offer PIPELINING
  // (neither smtpd_forbid_unauth_pipelining nor reject_unauth_pipelining looks at that); it
  // does refuse content written before DATA's 354. Exim and OpenSMTPD refuse both.
  check_pipelining(**mx, Pipe::kMailRcpt, /*expect_refused=*/false);
  check_pipelining(**mx, Pipe::kWholeTransaction, /*expect_refused=*/true);
}

// --- Exim ------------------------------------------------------------------------------------

TEST(EximMx, PlainOffersChunkingAndPipelining) {
  REQUIRE_SERVER(EximMx);
  auto mx = EximMx::start();
  ASSERT_TRUE(mx) << mx.error();
  EXPECT_EQ((*mx)->host(), "127.0.0.3");
  check_three_messages(**mx, {.starttls = false, .chunking = true, .pipelining = true}, {});
  check_pipelining(**mx, Pipe::kMailRcpt, /*expect_refused=*/false);
  check_pipelining(**mx, Pipe::kWholeTransaction, /*expect_refused=*/false);
}

TEST(EximMx, StartTlsWithoutChunkingOrPipelining) {
  REQUIRE_SERVER(EximMx);
  it::TempDir certs;
  auto cert = make_cert(certs, "mx.exim.test", EximMx::kDefaultIp);
  auto mx = EximMx::start({.tls = cert, .chunking = false, .pipelining = false});
  ASSERT_TRUE(mx) << mx.error();
  check_three_messages(**mx, {.starttls = true, .chunking = false, .pipelining = false}, cert.cert_file);
  check_pipelining(**mx, Pipe::kMailRcpt, /*expect_refused=*/true);
  check_pipelining(**mx, Pipe::kWholeTransaction, /*expect_refused=*/true);
}

// --- OpenSMTPD -------------------------------------------------------------------------------

TEST(OpenSmtpdMx, PlainOffersNeitherChunkingNorPipelining) {
  REQUIRE_SERVER(OpenSmtpdMx);
  auto mx = OpenSmtpdMx::start();
  ASSERT_TRUE(mx) << mx.error();
  EXPECT_EQ((*mx)->host(), "127.0.0.4");
  check_three_messages(**mx, {.starttls = false, .chunking = false, .pipelining = false}, {});
  check_pipelining(**mx, Pipe::kMailRcpt, /*expect_refused=*/true);
  check_pipelining(**mx, Pipe::kWholeTransaction, /*expect_refused=*/true);
}

TEST(OpenSmtpdMx, StartTls) {
  REQUIRE_SERVER(OpenSmtpdMx);
  it::TempDir certs;
  auto cert = make_cert(certs, "mx.opensmtpd.test", OpenSmtpdMx::kDefaultIp);
  auto mx = OpenSmtpdMx::start({.tls = cert});
  ASSERT_TRUE(mx) << mx.error();
  check_three_messages(**mx, {.starttls = true, .chunking = false, .pipelining = false}, cert.cert_file);
}

TEST(OpenSmtpdMx, RefusesToOfferWhatItCannot) {
  REQUIRE_SERVER(OpenSmtpdMx);
  EXPECT_FALSE(OpenSmtpdMx::start({.chunking = true}));
  EXPECT_FALSE(OpenSmtpdMx::start({.pipelining = true}));
}

// --- all three ---------------------------------------------------------------------------------

// What the ringpost interop tests will do: three MXs at once, each for its own domains, on
// distinct loopback addresses; every copy lands at the server of its recipient's domain only.
TEST(InteropHarness, ThreeServersSideBySideEachTakeOnlyTheirDomains) {
  REQUIRE_SERVER(PostfixMx);
  REQUIRE_SERVER(EximMx);
  REQUIRE_SERVER(OpenSmtpdMx);
  auto pf = PostfixMx::start({.domains = {"pf-a.test", "pf-b.test"}});
  ASSERT_TRUE(pf) << pf.error();
  auto ex = EximMx::start({.domains = {"ex-a.test", "ex-b.test"}});
  ASSERT_TRUE(ex) << ex.error();
  auto os = OpenSmtpdMx::start({.domains = {"os-a.test", "os-b.test"}});
  ASSERT_TRUE(os) << os.error();
  for (MxServer* mx : {static_cast<MxServer*>(pf->get()), static_cast<MxServer*>(ex->get()),
                       static_cast<MxServer*>(os->get())}) {
    SCOPED_TRACE(mx->describe());
    const auto& d = mx->domains();
    ProbeRequest req;
    req.recipients = {"one@" + d[0], "two@" + d[1]};
    auto r = probe_smtp(*mx, req);
    ASSERT_TRUE(r) << r.error();
    ASSERT_TRUE(mx->wait_for_delivered(2));
    std::set<std::string> rcpts;
    for (const auto& m : mx->received_messages()) rcpts.insert(m.recipient);
    EXPECT_EQ(rcpts, (std::set<std::string>{"one@" + d[0], "two@" + d[1]}));
    // A domain of another server is refused, not relayed.
    req.recipients = {"x@" + (mx == pf->get() ? std::string("ex-a.test") : std::string("pf-a.test"))};
    EXPECT_FALSE(probe_smtp(*mx, req));
  }
  EXPECT_EQ((*pf)->delivered_count(), 2);
  EXPECT_EQ((*ex)->delivered_count(), 2);
  EXPECT_EQ((*os)->delivered_count(), 2);
}

// RAII: once the object is gone, so is every process of the server and its port.
TEST(InteropHarness, DestructorStopsEveryProcessAndFreesThePort) {
  REQUIRE_SERVER(PostfixMx);
  REQUIRE_SERVER(EximMx);
  REQUIRE_SERVER(OpenSmtpdMx);
  auto check = [](auto started) {
    ASSERT_TRUE(started) << started.error();
    auto mx = std::move(*started);
    ProbeRequest req;
    ASSERT_TRUE(probe_smtp(*mx, req));
    ASSERT_TRUE(mx->wait_for_delivered(1)) << mx->describe();
    pid_t group = mx->process_group();
    std::string ip = mx->host();
    uint16_t port = mx->port();
    ASSERT_GT(group, 0);
    EXPECT_EQ(::kill(-group, 0), 0);
    mx.reset();
    errno = 0;
    EXPECT_EQ(::kill(-group, 0), -1) << "processes of group " << group << " survived";
    EXPECT_EQ(errno, ESRCH);
    EXPECT_FALSE(is_listening(ip, port));
  };
  check(PostfixMx::start());
  check(EximMx::start());
  check(OpenSmtpdMx::start());
}

// A server that cannot start fails within the bound and says why: its own log, and a diagnosis
// for what a server may not log itself (Postfix's master reports bind errors to syslog only).
template <typename Mx>
void check_start_failure_on_taken_port(const std::string& ip, const std::string& log_says) {
  // Hold the port (a plain socket, no O_CLOEXEC: it must not leak into the server either).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto mx = Mx::start({.port = ntohs(sa.sin_port), .start_timeout = 10s});
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  ASSERT_FALSE(mx) << "started although the port was taken";
  const std::string& e = mx.error();
  EXPECT_NE(e.find("exited before listening"), std::string::npos) << e;
  EXPECT_NE(e.find("is taken by another socket"), std::string::npos) << e;
  EXPECT_NE(e.find(log_says), std::string::npos) << e;
}

TEST(InteropHarness, StartFailureOnTakenPortSaysWhy) {
  REQUIRE_SERVER(PostfixMx);
  REQUIRE_SERVER(EximMx);
  REQUIRE_SERVER(OpenSmtpdMx);
  check_start_failure_on_taken_port<PostfixMx>(PostfixMx::kDefaultIp, "syslog");
  check_start_failure_on_taken_port<EximMx>(EximMx::kDefaultIp, "Address already in use");
  check_start_failure_on_taken_port<OpenSmtpdMx>(OpenSmtpdMx::kDefaultIp, "Address already in use");
}

}  // namespace
}  // namespace ringpost::interop
