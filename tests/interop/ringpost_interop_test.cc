// ringpost against real MTAs (Postfix, Exim, OpenSMTPD) started by the test on loopback: each
// test starts an MX, starts `ringpost serve` with a static route to it, submits over HTTP and
// checks the far side (files in the MX's maildir, the MX's own log) and ringpost's status API
// (delivered, with the reply of the server that took the message). One test thread; every
// server is RAII-owned and every wait is bounded.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/wait.h"
#include "tests/interop/require_server.h"
#include "tests/interop/exim_mx.h"
#include "tests/interop/opensmtpd_mx.h"
#include "tests/interop/postfix_mx.h"
#include "tests/tls/test_pki.h"

namespace ringpost::interop {
namespace {

using namespace std::chrono_literals;
using tls::testing::make_test_pki;
using tls::testing::PkiFiles;
using tls::testing::PkiOptions;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool contains_ci(const std::string& haystack, const std::string& needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

// Debian's postfix package, next to kPostfixCommand (interop_paths.h).
constexpr const char* kPostconf = "/usr/sbin/postconf";

// --- the messages ------------------------------------------------------------------------------

constexpr const char* kSender = "sender@example.test";
constexpr const char* kFromHeader = "Ringpost Interop <sender@example.test>";

// A 900-octet line (RFC 5321 allows 998): long enough that a writer splitting or folding lines
// shows, short enough to be legal. Varied bytes so a shifted or dropped byte shows too.
std::string long_line(int i) {
  std::string s = fmt::format("long-{:03}:", i);
  for (int k = 0; s.size() < 900; ++k) s += static_cast<char>('a' + (k * 7 + i) % 26);
  return s;
}

// The body as the maildir holds it (LF line ends). Lines starting with "." are what DATA's
// dot-stuffing must escape (RFC 5321 §4.5.2) and what BDAT must send untouched (RFC 3030 §2);
// a lone "." would end the message early if it were not stuffed.
std::string body_lf(int i) {
  return fmt::format(
      "Interop message {}.\n"
      ".leading dot line\n"
      "..two leading dots\n"
      ".\n"
      "{}\n"
      " . space then dot\n"
      "last line\n",
      i, long_line(i));
}

struct Sent {
  std::string id;  // ringpost's id (202 response)
  std::vector<std::string> recipients;
  std::string subject;
  std::string message_id;  // "<...>", as written in the header
  std::string body;        // LF form, what the maildir must hold after the header
};

std::string to_crlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// A whole RFC 5322 message ("raw"), so the test knows every header it should find at the far side.
std::string raw_message(const Sent& s) {
  std::string to;
  for (const auto& r : s.recipients) to += (to.empty() ? "" : ", ") + r;
  std::string header = fmt::format(
      "From: {}\n"
      "To: {}\n"
      "Subject: {}\n"
      "Message-ID: {}\n"
      "MIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=us-ascii\n"
      "\n",
      kFromHeader, to, s.subject, s.message_id);
  return to_crlf(header + s.body);
}

// --- the far side: Postfix's per-session command counters --------------------------------------

// Postfix smtpd ends every session with "disconnect from unknown[127.0.0.1] ehlo=2 starttls=1
// mail=10 rcpt=10 bdat=10 quit=1 commands=34" (counts of accepted/total when some failed, e.g.
// "rcpt=0/1"). That is the server's own account of which commands our client used.
using SessionCounters = std::map<std::string, int>;

std::vector<SessionCounters> postfix_sessions(const std::string& log) {
  std::vector<SessionCounters> out;
  std::size_t pos = 0;
  while (pos < log.size()) {
    std::size_t eol = log.find('\n', pos);
    if (eol == std::string::npos) eol = log.size();
    std::string_view line(log.data() + pos, eol - pos);
    pos = eol + 1;
    auto at = line.find("]: disconnect from ");
    if (line.find("smtpd[") == std::string_view::npos || at == std::string_view::npos) continue;
    SessionCounters c;
    std::size_t p = at;
    while (p < line.size()) {
      std::size_t sp = line.find(' ', p);
      if (sp == std::string_view::npos) sp = line.size();
      std::string_view tok = line.substr(p, sp - p);
      p = sp + 1;
      auto eq = tok.find('=');
      if (eq == std::string_view::npos || eq == 0) continue;
      // "rcpt=0/1": accepted/issued; count what the client issued.
      std::string_view v = tok.substr(eq + 1);
      if (auto slash = v.find('/'); slash != std::string_view::npos) v = v.substr(slash + 1);
      int n = 0;
      for (char ch : v) n = std::isdigit(static_cast<unsigned char>(ch)) ? n * 10 + (ch - '0') : n;
      c[std::string(tok.substr(0, eq))] = n;
    }
    out.push_back(std::move(c));
  }
  return out;
}

int total(const std::vector<SessionCounters>& sessions, const std::string& key) {
  int n = 0;
  for (const auto& s : sessions)
    if (auto it = s.find(key); it != s.end()) n += it->second;
  return n;
}

std::string describe(const std::vector<SessionCounters>& sessions) {
  std::string out;
  for (const auto& s : sessions) {
    out += "  session:";
    for (const auto& [k, v] : s) out += fmt::format(" {}={}", k, v);
    out += "\n";
  }
  return out;
}

// Postfix's session counters once sessions carrying `mails` transactions have ended (ringpost's
// idle_timeout is 1 s here), so "bdat=" and "data=" tell which command carried the content.
std::vector<SessionCounters> postfix_sessions_after(const MxServer& mx, int mails) {
  std::vector<SessionCounters> sessions;
  it::wait_until(20s, 100ms, [&] {
    sessions = postfix_sessions(mx.log());
    return total(sessions, "mail") >= mails;
  });
  return sessions;
}

// The server's queue id from its Received header ("... with ESMTPS id 4XyZ ..." for Postfix,
// "id 1tAbCd-000123-Xy" for Exim, "with ESMTP id 1a2b3c4d" for OpenSMTPD); the 250 reply to the
// end of the message names the same id, which ties a status reply to one delivered file.
std::string queue_id_in(const std::string& received) {
  std::size_t p = 0;
  while ((p = received.find("id ", p)) != std::string::npos) {
    if (p == 0 || received[p - 1] == ' ' || received[p - 1] == '\t' || received[p - 1] == '\n') {
      std::size_t b = p + 3, e = b;
      while (e < received.size() && (std::isalnum(static_cast<unsigned char>(received[e])) || received[e] == '-')) ++e;
      if (e > b) return received.substr(b, e - b);
    }
    p += 3;
  }
  return {};
}

// --- fixture -----------------------------------------------------------------------------------

class RingpostInterop : public it::ServerTest {
 protected:
  // Starts ringpost with a static route for every domain of `mx` to mx.endpoint(), with
  // `domain_toml` added to each domain's table. idle_timeout is short so sessions end (and
  // Postfix logs their counters) soon after the last message.
  void start_ringpost(const MxServer& mx, const std::string& domain_toml, int max_msgs_per_connection = 100) {
    auto port = it::pick_free_ports(1);
    ASSERT_TRUE(port) << port.error();
    it::ServerConfig cfg;
    cfg.http_port = (*port)[0];
    cfg.max_msgs_per_connection = max_msgs_per_connection;
    for (const auto& d : mx.domains())
      cfg.domains.push_back({d, mx.endpoint(), "idle_timeout = \"1s\"\n" + domain_toml});
    auto server = it::RingpostServer::start(dir_.path(), cfg);
    ASSERT_TRUE(server) << server.error();
    server_.emplace(std::move(*server));
    api_.emplace(server_->port());
  }

  // The tail of ringpost's output (first launch), for failure messages.
  std::string ringpost_log() const {
    std::string s = read_file(dir_ / "ringpost-1.log");
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  }

  // Submits `count` messages in one batch, message i to `rcpts_per_message` recipients at
  // `domain`; each has its own Subject and Message-ID.
  std::vector<Sent> submit(const std::string& tag, const std::string& domain, int count, int rcpts_per_message = 1,
                           int first = 0) {
    std::vector<Sent> sent;
    std::string json = R"({"messages":[)";
    for (int i = first; i < first + count; ++i) {
      Sent s;
      for (int r = 0; r < rcpts_per_message; ++r) s.recipients.push_back(fmt::format("{}.{}.r{}@{}", tag, i, r, domain));
      s.subject = fmt::format("ringpost interop {} #{}", tag, i);
      s.message_id = fmt::format("<{}.{}@interop.example.test>", tag, i);
      s.body = body_lf(i);
      std::string to;
      for (const auto& r : s.recipients) to += (to.empty() ? "" : ",") + it::json_quote(r);
      if (i != first) json += ',';
      json += fmt::format(R"({{"from":{},"to":[{}],"raw":{}}})", it::json_quote(kSender), to,
                          it::json_quote(raw_message(s)));
      sent.push_back(std::move(s));
    }
    json += "]}";
    auto r = api_->http().post_json("/v1/messages/batch", json);
    EXPECT_TRUE(r) << r.error();
    if (!r) return {};
    EXPECT_EQ(r->status, 202) << r->body;
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array ids;
    if (p.parse(r->body).get(doc) || doc["ids"].get(ids) || ids.size() != sent.size()) {
      ADD_FAILURE() << "unexpected batch response: " << r->body;
      return {};
    }
    std::size_t k = 0;
    for (simdjson::dom::element e : ids) {
      std::string_view id;
      EXPECT_FALSE(e.get(id)) << r->body;
      sent[k++].id = std::string(id);
    }
    return sent;
  }

  // Polls the status of every message until `done` holds for every recipient (bounded);
  // returns the last statuses seen, keyed by ringpost id.
  template <typename Done>
  std::map<std::string, it::MessageStatus> wait_status(const std::vector<Sent>& sent, std::chrono::milliseconds timeout,
                                                        Done&& done) {
    std::map<std::string, it::MessageStatus> last;
    it::wait_until(timeout, 100ms, [&] {
      bool all = true;
      for (const Sent& s : sent) {
        auto st = api_->status(s.id);
        if (!st) {
          all = false;
          continue;
        }
        last[s.id] = *st;
        for (const auto& r : st->recipients) all = all && done(r);
        all = all && st->recipients.size() == s.recipients.size();
      }
      return all;
    });
    return last;
  }

  std::map<std::string, it::MessageStatus> wait_final(const std::vector<Sent>& sent) {
    return wait_status(sent, 60s, [](const it::RecipientStatus& r) {
      return r.state == "delivered" || r.state == "bounced" || r.state == "expired";
    });
  }

  // The whole far-side contract for delivered mail: every recipient of `sent` is one file in the
  // maildir with the headers and the exact body we submitted, received from us in one Received
  // trace line that says whether TLS was used; ringpost's status says delivered with the 250
  // that names the server's queue id for that very file.
  void expect_delivered(const MxServer& mx, const std::vector<Sent>& sent, bool over_tls) {
    int copies = 0;
    for (const Sent& s : sent) copies += static_cast<int>(s.recipients.size());
    auto statuses = wait_final(sent);
    ASSERT_TRUE(mx.wait_for_delivered(copies, 30s)) << mx.describe() << "\n--- ringpost ---\n" << ringpost_log();
    // Give a stray duplicate the time to show up before counting exactly.
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(mx.delivered_count(), copies) << mx.describe();

    std::map<std::pair<std::string, std::string>, ReceivedMessage> by_rcpt_and_id;
    for (auto& m : mx.received_messages()) {
      auto key = std::make_pair(m.recipient, m.header("Message-ID"));
      EXPECT_FALSE(by_rcpt_and_id.count(key)) << "duplicate delivery of " << key.second << " to " << key.first;
      by_rcpt_and_id.emplace(std::move(key), std::move(m));
    }
    for (const Sent& s : sent) {
      SCOPED_TRACE(s.message_id);
      auto st = statuses.find(s.id);
      ASSERT_NE(st, statuses.end()) << "no status for " << s.id;
      ASSERT_EQ(st->second.recipients.size(), s.recipients.size()) << it::summarize(st->second);
      for (std::size_t r = 0; r < s.recipients.size(); ++r) {
        const std::string& rcpt = s.recipients[r];
        auto m = by_rcpt_and_id.find({rcpt, s.message_id});
        ASSERT_NE(m, by_rcpt_and_id.end()) << "no copy for " << rcpt << "\n" << mx.describe();
        const ReceivedMessage& got = m->second;
        EXPECT_EQ(got.header("Subject"), s.subject);
        EXPECT_EQ(got.header("From"), kFromHeader);
        EXPECT_EQ(got.body(), s.body) << got.file;
        const std::string received = got.header("Received");  // the topmost: the MX's own
        EXPECT_TRUE(contains_ci(received, mx.hostname())) << received;
        EXPECT_EQ(contains_ci(received, "with esmtps"), over_tls) << received;
        EXPECT_FALSE(contains_ci(received, "with smtp ")) << "ringpost must say EHLO: " << received;

        const it::RecipientStatus* rs = nullptr;
        for (const auto& x : st->second.recipients)
          if (x.address == rcpt) rs = &x;
        ASSERT_NE(rs, nullptr) << it::summarize(st->second);
        EXPECT_EQ(rs->state, "delivered") << it::summarize(st->second);
        ASSERT_TRUE(rs->last_reply) << it::summarize(st->second);
        EXPECT_EQ(rs->last_reply->code, 250) << it::summarize(st->second);
        const std::string qid = queue_id_in(received);
        EXPECT_FALSE(qid.empty()) << received;
        EXPECT_NE(rs->last_reply->text.find(qid), std::string::npos)
            << "status reply " << rs->last_reply->text << " does not name the queue id " << qid
            << " of the delivered file; Received: " << received;
      }
    }
  }

  std::optional<it::RingpostServer> server_;
  std::optional<it::RingpostApi> api_;
};

// --- certificates --------------------------------------------------------------------------------

// A CA and a server certificate it signs, for the given names; TlsFiles as the MX wants them.
struct TestPki {
  PkiFiles files;
  TlsFiles mx_files() const { return TlsFiles{files.server_chain, files.server_key}; }
};

std::optional<TestPki> make_pki(const it::TempDir& dir, const std::string& sub, PkiOptions o) {
  std::error_code ec;
  std::filesystem::create_directories(dir / sub, ec);
  auto pki = make_test_pki((dir / sub).string(), o);
  EXPECT_TRUE(pki) << pki.error();
  if (!pki) return std::nullopt;
  return TestPki{*pki};
}

std::string toml_quote(const std::string& s) { return fmt::format("\"{}\"", s); }

// --- 1. Postfix, STARTTLS, verified ----------------------------------------------------------------

TEST_F(RingpostInterop, PostfixStartTlsVerifiedDeliversTwenty) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  // ringpost checks the route's host, an IP: the certificate names that IP (and the MX name).
  auto pki = make_pki(certs, "pki", {.dns_names = {"mx.postfix.test"}, .ip_addresses = {PostfixMx::kDefaultIp}});
  ASSERT_TRUE(pki);
  auto mx = PostfixMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "tls = \"verify\"\ntls_ca_file = " + toml_quote(pki->files.ca_cert)));

  auto sent = submit("verified", (*mx)->domains().front(), 20);
  ASSERT_EQ(sent.size(), 20u);
  expect_delivered(**mx, sent, /*over_tls=*/true);

  // Postfix's account: every session that carried mail did STARTTLS first, and all 20
  // transactions were accepted (mail=20 rcpt=20, no refused command).
  auto sessions = postfix_sessions_after(**mx, 20);
  EXPECT_EQ(total(sessions, "mail"), 20) << describe(sessions) << (*mx)->log();
  EXPECT_EQ(total(sessions, "rcpt"), 20) << describe(sessions);
  for (const auto& s : sessions) {
    if (s.count("mail") == 0) continue;
    EXPECT_EQ(s.count("starttls") ? s.at("starttls") : 0, 1) << describe(sessions);
  }
  const std::string log = (*mx)->log();
  EXPECT_TRUE(contains_ci(log, "TLS connection established from")) << log;
  EXPECT_FALSE(contains_ci(log, "synchronization")) << log;
  for (const auto& m : (*mx)->received_messages()) {
    // smtpd_tls_received_header = yes: "(using TLSv1.3 with cipher ... (256/256 bits) ...)".
    EXPECT_TRUE(contains_ci(m.header("Received"), "using TLSv1")) << m.header("Received");
    EXPECT_TRUE(contains_ci(m.header("Received"), "with cipher")) << m.header("Received");
    break;
  }
}

// --- 2. Postfix, verify against the wrong certificate -----------------------------------------------

// `tls = "verify"` must defer (never deliver, never bounce) when the server's certificate does not
// verify, with a 4.7.x reply that says why; the far side sees a handshake the client abandoned
// and no mail.
void expect_verify_failure(const MxServer& mx, const std::vector<Sent>& sent,
                           const std::map<std::string, it::MessageStatus>& statuses, const std::string& ringpost_log) {
  for (const Sent& s : sent) {
    auto st = statuses.find(s.id);
    ASSERT_NE(st, statuses.end()) << "no status for " << s.id;
    if (&s == &sent.front()) std::fprintf(stderr, "[interop] %s\n", it::summarize(st->second).c_str());
    for (const auto& r : st->second.recipients) {
      EXPECT_EQ(r.state, "deferred") << it::summarize(st->second) << "\n--- ringpost ---\n" << ringpost_log;
      ASSERT_TRUE(r.last_reply) << it::summarize(st->second);
      EXPECT_GE(r.last_reply->code, 400) << it::summarize(st->second);
      EXPECT_LT(r.last_reply->code, 500) << it::summarize(st->second);
      EXPECT_EQ(r.last_reply->enhanced.rfind("4.7.", 0), 0u) << it::summarize(st->second);
      EXPECT_TRUE(contains_ci(r.last_reply->text, "tls")) << it::summarize(st->second);
      EXPECT_TRUE(contains_ci(r.last_reply->text, "certificate") || contains_ci(r.last_reply->text, "verif"))
          << it::summarize(st->second);
    }
  }
  // Nothing may arrive later either (a plain-text fallback would be a downgrade).
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(mx.delivered_count(), 0) << mx.describe();
  auto sessions = postfix_sessions(mx.log());
  EXPECT_EQ(total(sessions, "mail"), 0) << describe(sessions) << mx.log();
  // Postfix saw the handshake fail on its side (the client's alert), not a plain-text session.
  EXPECT_TRUE(contains_ci(mx.log(), "SSL_accept error")) << mx.log();
}

TEST_F(RingpostInterop, PostfixVerifyDefersOnCertificateForAnotherHost) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  // Chains to the CA ringpost trusts, but names another host and another IP.
  auto pki = make_pki(certs, "pki", {.dns_names = {"other.example.test"}, .ip_addresses = {"127.0.0.9"}});
  ASSERT_TRUE(pki);
  auto mx = PostfixMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  // A long retry so the state stays "deferred" while the test looks at it.
  ASSERT_NO_FATAL_FAILURE(start_ringpost(
      **mx, "tls = \"verify\"\ntls_ca_file = " + toml_quote(pki->files.ca_cert) + "\nretry = [\"1h\"]\n"));
  auto sent = submit("wronghost", (*mx)->domains().front(), 3);
  ASSERT_EQ(sent.size(), 3u);
  auto statuses = wait_status(sent, 30s, [](const it::RecipientStatus& r) { return r.state != "queued" && r.last_reply; });
  expect_verify_failure(**mx, sent, statuses, ringpost_log());
}

TEST_F(RingpostInterop, PostfixVerifyDefersOnCertificateFromUntrustedCa) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  // The right IP, but signed by a CA ringpost was not told about.
  auto served = make_pki(certs, "served", {.dns_names = {"mx.postfix.test"}, .ip_addresses = {PostfixMx::kDefaultIp}});
  auto trusted = make_pki(certs, "trusted", {.dns_names = {"mx.postfix.test"}, .ip_addresses = {PostfixMx::kDefaultIp}});
  ASSERT_TRUE(served && trusted);
  auto mx = PostfixMx::start({.tls = served->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(
      **mx, "tls = \"verify\"\ntls_ca_file = " + toml_quote(trusted->files.ca_cert) + "\nretry = [\"1h\"]\n"));
  auto sent = submit("untrustedca", (*mx)->domains().front(), 3);
  ASSERT_EQ(sent.size(), 3u);
  auto statuses = wait_status(sent, 30s, [](const it::RecipientStatus& r) { return r.state != "queued" && r.last_reply; });
  expect_verify_failure(**mx, sent, statuses, ringpost_log());
}

// --- 3. Postfix, opportunistic TLS with an untrusted certificate -------------------------------------

TEST_F(RingpostInterop, PostfixOpportunisticTlsAcceptsUntrustedCertificate) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  // Self-signed, for a name that is not the route's host: nothing about it verifies.
  auto pki = make_pki(certs, "pki", {.dns_names = {"nowhere.invalid"}, .self_signed = true});
  ASSERT_TRUE(pki);
  auto mx = PostfixMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "tls = \"opportunistic\"\n"));
  auto sent = submit("opportunistic", (*mx)->domains().front(), 5);
  ASSERT_EQ(sent.size(), 5u);
  expect_delivered(**mx, sent, /*over_tls=*/true);
  auto sessions = postfix_sessions((*mx)->log());
  for (const auto& s : sessions) {
    if (s.count("mail") == 0) continue;
    EXPECT_EQ(s.count("starttls") ? s.at("starttls") : 0, 1) << describe(sessions);
  }
}

// --- 4. Postfix, CHUNKING (BDAT) and DATA ---------------------------------------------------------


TEST_F(RingpostInterop, PostfixChunkingOfferedUsesBdatByteExact) {
  REQUIRE_SERVER(PostfixMx);
  auto mx = PostfixMx::start({.chunking = true});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "chunking = true\n"));
  auto sent = submit("bdat", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  auto sessions = postfix_sessions_after(**mx, 10);
  EXPECT_EQ(total(sessions, "bdat"), 10) << describe(sessions) << (*mx)->log();
  EXPECT_EQ(total(sessions, "data"), 0) << describe(sessions);
}

TEST_F(RingpostInterop, PostfixChunkingNotOfferedUsesDataByteExact) {
  REQUIRE_SERVER(PostfixMx);
  auto mx = PostfixMx::start({.chunking = false});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "chunking = true\n"));
  auto sent = submit("data", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  auto sessions = postfix_sessions_after(**mx, 10);
  EXPECT_EQ(total(sessions, "data"), 10) << describe(sessions) << (*mx)->log();
  EXPECT_EQ(total(sessions, "bdat"), 0) << describe(sessions);
}

TEST_F(RingpostInterop, PostfixChunkingDisabledInConfigUsesData) {
  REQUIRE_SERVER(PostfixMx);
  auto mx = PostfixMx::start({.chunking = true});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "chunking = false\n"));
  auto sent = submit("nochunk", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  auto sessions = postfix_sessions_after(**mx, 10);
  EXPECT_EQ(total(sessions, "data"), 10) << describe(sessions) << (*mx)->log();
  EXPECT_EQ(total(sessions, "bdat"), 0) << describe(sessions);
}

// --- 5. Exim ------------------------------------------------------------------------------------------

TEST_F(RingpostInterop, EximPlainDeliversTen) {
  REQUIRE_SERVER(EximMx);
  auto mx = EximMx::start();
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, ""));
  auto sent = submit("exim", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  EXPECT_FALSE(contains_ci((*mx)->log(), "synchronization")) << (*mx)->log();
}

TEST_F(RingpostInterop, EximStartTlsOpportunisticDeliversTen) {
  REQUIRE_SERVER(EximMx);
  it::TempDir certs;
  auto pki = make_pki(certs, "pki", {.dns_names = {"mx.exim.test"}, .ip_addresses = {EximMx::kDefaultIp}});
  ASSERT_TRUE(pki);
  auto mx = EximMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "tls = \"opportunistic\"\n"));
  auto sent = submit("eximtls", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/true);
  // log_selector +tls_cipher: every reception line names the cipher ("X=TLS1.3:...").
  EXPECT_TRUE(contains_ci((*mx)->log(), " X=TLS")) << (*mx)->log();
}

// --- 6. OpenSMTPD ---------------------------------------------------------------------------------

// OpenSMTPD offers neither PIPELINING nor CHUNKING and answers a command written ahead with
// "500 5.5.1 Pipelining not supported": delivery here also proves ringpost waits for each reply.
TEST_F(RingpostInterop, OpenSmtpdPlainDeliversTen) {
  REQUIRE_SERVER(OpenSmtpdMx);
  auto mx = OpenSmtpdMx::start();
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, ""));
  auto sent = submit("opensmtpd", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  EXPECT_FALSE(contains_ci((*mx)->log(), "Pipelining not supported")) << (*mx)->log();
}

TEST_F(RingpostInterop, OpenSmtpdStartTlsDeliversTen) {
  REQUIRE_SERVER(OpenSmtpdMx);
  it::TempDir certs;
  auto pki = make_pki(certs, "pki", {.dns_names = {"mx.opensmtpd.test"}, .ip_addresses = {OpenSmtpdMx::kDefaultIp}});
  ASSERT_TRUE(pki);
  auto mx = OpenSmtpdMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, "tls = \"verify\"\ntls_ca_file = " + toml_quote(pki->files.ca_cert)));
  auto sent = submit("opensmtpdtls", (*mx)->domains().front(), 10);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/true);
  EXPECT_FALSE(contains_ci((*mx)->log(), "Pipelining not supported")) << (*mx)->log();
}

// --- 7. Exim without PIPELINING ------------------------------------------------------------------

// With PIPELINING not offered Exim enforces synchronization (smtp_enforce_sync): a client that
// writes MAIL and RCPT together gets "554 SMTP synchronization error" and the message is lost to
// that session. Two recipients per message make MAIL, RCPT, RCPT, DATA/BDAT a real sequence.
TEST_F(RingpostInterop, EximWithoutPipeliningDeliversTen) {
  REQUIRE_SERVER(EximMx);
  auto mx = EximMx::start({.pipelining = false});
  ASSERT_TRUE(mx) << mx.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(**mx, ""));
  auto sent = submit("nopipe", (*mx)->domains().front(), 10, /*rcpts_per_message=*/2);
  ASSERT_EQ(sent.size(), 10u);
  expect_delivered(**mx, sent, /*over_tls=*/false);
  EXPECT_FALSE(contains_ci((*mx)->log(), "synchronization")) << (*mx)->log();
}

// --- 8. TLS session resumption across pooled connections -------------------------------------------

// One message per connection (max_msgs_per_connection = 1), sent one after the other, so each
// connection after the first can offer the session (TLS 1.3 ticket) the previous one received.
// Postfix issues tickets (tlsmgr holds the keys; smtpd_tls_session_cache_timeout defaults to
// 3600 s) and, at smtpd_tls_loglevel >= 2, logs "Reusing old session (RFC 5077 session ticket)"
// for a resumed handshake; `openssl s_client -sess_out/-sess_in` against this same instance gets
// that line, so the harness can see resumption.
//
// This caught a real bug: the session cache shared the SSL_SESSION object with the live SSL,
// and OpenSSL marks it not resumable in place when a connection ends without close_notify.
TEST_F(RingpostInterop, PostfixTlsSessionResumedOnNextConnection) {
  REQUIRE_SERVER(PostfixMx);
  it::TempDir certs;
  auto pki = make_pki(certs, "pki", {.dns_names = {"mx.postfix.test"}, .ip_addresses = {PostfixMx::kDefaultIp}});
  ASSERT_TRUE(pki);
  auto mx = PostfixMx::start({.tls = pki->mx_files()});
  ASSERT_TRUE(mx) << mx.error();
  // The harness runs smtpd_tls_loglevel = 1, which logs no word about resumption. smtpd (and
  // tlsmgr) read main.cf when master spawns them, on the first connection, so raising the level
  // now, before ringpost connects, is enough: no reload.
  auto set = run_to_completion({kPostconf, "-c", (*mx)->config_dir().string(), "-e", "smtpd_tls_loglevel=2"},
                               (*mx)->dir() / "postconf.out", 10s);
  ASSERT_TRUE(set) << set.error();
  ASSERT_NO_FATAL_FAILURE(start_ringpost(
      **mx, "tls = \"verify\"\ntls_ca_file = " + toml_quote(pki->files.ca_cert), /*max_msgs_per_connection=*/1));
  const std::string domain = (*mx)->domains().front();
  std::vector<Sent> all;
  for (int i = 0; i < 3; ++i) {
    auto sent = submit("resume", domain, 1, 1, i);
    ASSERT_EQ(sent.size(), 1u);
    auto st = wait_final(sent);
    ASSERT_EQ(st[sent[0].id].recipients.at(0).state, "delivered") << it::summarize(st[sent[0].id]);
    all.push_back(sent[0]);
  }
  expect_delivered(**mx, all, /*over_tls=*/true);
  std::vector<SessionCounters> sessions;
  it::wait_until(15s, 100ms, [&] {
    sessions = postfix_sessions((*mx)->log());
    return sessions.size() >= 3;
  });
  ASSERT_EQ(sessions.size(), 3u) << describe(sessions) << (*mx)->log();
  for (const auto& s : sessions) EXPECT_EQ(s.count("starttls") ? s.at("starttls") : 0, 1) << describe(sessions);
  const std::string log = (*mx)->log();
  EXPECT_TRUE(contains_ci(log, "Reusing old session")) << log;
}

}  // namespace
}  // namespace ringpost::interop
