// The signer against two independent verifiers (python3-dkim and Perl Mail::DKIM): RSA-SHA256
// and Ed25519-SHA256, dual signing, every canonicalization over the bodies and headers where
// canonicalizations differ, raw messages from the API renderer. Every signed message is also
// tampered with (one header letter, one body letter) to prove the verifiers can fail.
#include "dkim/signer.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "dkim/message_view.h"
#include "dkim/signing_key.h"
#include "engine/api/message_renderer.h"
#include "engine/api/submit_request.h"
#include "tests/dkim/dkim_fixtures.h"

namespace ringpost::dkim_test {
namespace {

constexpr int64_t kNow = 1764100000;  // 2025-11-25: t= in the past, as verifiers expect
using dkim::Canon;
using dkim::Canonicalization;

std::string basic_message(std::string_view from = "Alice <alice@example.test>") {
  return fmt::format(
      "From: {}\r\nTo: bob@dest.test\r\nSubject: quarterly report\r\nDate: Tue, 25 Nov 2025 19:08:07 +0000\r\n"
      "Message-ID: <m1@mta.example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "\r\nHello Bob,\r\nthe numbers are in.\r\n",
      from);
}

std::string sign_or_die(std::string_view message, const std::vector<dkim::SignEntry>& entries) {
  auto sig = dkim::sign(message, entries, kNow);
  EXPECT_TRUE(sig) << sig.error().message();
  return sig ? *sig + std::string(message) : std::string();
}

KeySource keys_for(std::initializer_list<std::pair<std::string, const TestKey*>> selectors,
                   const std::string& domain = "example.test") {
  KeySource ks;
  for (const auto& [sel, key] : selectors) ks.txt.push_back(txt_record(domain, sel, *key));
  return ks;
}

TEST(DkimSign, RsaSha256VerifiesWithBothVerifiersAndTamperingFails) {
  const std::string m = sign_or_die(basic_message(), {make_entry("example.test", "rsa", rsa2048())});
  EXPECT_TRUE(verified_by_both(m, keys_for({{"rsa", &rsa2048()}}), 1));
}

TEST(DkimSign, Ed25519VerifiesWithBothVerifiersAndTamperingFails) {
  const std::string m = sign_or_die(basic_message(), {make_entry("example.test", "ed", ed25519())});
  EXPECT_TRUE(verified_by_both(m, keys_for({{"ed", &ed25519()}}), 1));
}

TEST(DkimSign, Rsa1024VerifiesWithBothVerifiers) {
  const std::string m = sign_or_die(basic_message(), {make_entry("example.test", "old", rsa1024())});
  EXPECT_TRUE(verified_by_both(m, keys_for({{"old", &rsa1024()}}), 1));
}

TEST(DkimSign, DualSignatureRsaAndEd25519BothVerify) {
  // RFC 8463 §5: sign with both, so receivers without Ed25519 still find a valid RSA signature.
  const std::string m = sign_or_die(basic_message(), {make_entry("example.test", "rsa", rsa2048()),
                                                      make_entry("example.test", "ed", ed25519())});
  ASSERT_TRUE(m.starts_with("DKIM-Signature: v=1; a=rsa-sha256;")) << m.substr(0, 200);
  EXPECT_NE(m.find("\r\nDKIM-Signature: v=1; a=ed25519-sha256;"), std::string::npos);
  EXPECT_TRUE(verified_by_both(m, keys_for({{"rsa", &rsa2048()}, {"ed", &ed25519()}}), 2));
}

TEST(DkimSign, WrongPublicKeyFailsWithBothVerifiers) {
  // The verifiers really check the key: another key of the same type under the selector, and
  // an Ed25519 key record for an RSA signature.
  const std::string rsa_signed = sign_or_die(basic_message(), {make_entry("example.test", "s", rsa2048())});
  const std::string ed_signed = sign_or_die(basic_message(), {make_entry("example.test", "s", ed25519())});
  auto other_ed_pem = dkim::generate_private_key_pem(dkim::Algorithm::ed25519_sha256, 0);
  ASSERT_TRUE(other_ed_pem);
  auto other_ed = dkim::parse_signing_key(*other_ed_pem);
  ASSERT_TRUE(other_ed);
  const std::vector<std::pair<std::string, KeySource>> cases{
      {rsa_signed, {{txt_record("example.test", "s", rsa1024())}, {}}},
      {ed_signed, {{{"s._domainkey.example.test", dkim::dns_txt_value(*other_ed)}}, {}}},
      {rsa_signed, {{txt_record("example.test", "s", ed25519())}, {}}},
      {ed_signed, {{txt_record("example.test", "s", rsa2048())}, {}}},
  };
  for (const auto& [message, keys] : cases) {
    for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
      auto verdicts = run_verifier(v, {message}, keys);
      ASSERT_TRUE(verdicts) << verdicts.error();
      EXPECT_TRUE((*verdicts)[0].none_pass()) << verifier_name(v) << " with " << keys.txt[0].second << ": "
                                              << (*verdicts)[0].describe();
      EXPECT_EQ((*verdicts)[0].declared, 1);
    }
  }
}

TEST(DkimSign, FieldAddedAfterSigningBreaksOversignedSignature) {
  // From and Subject are over-signed: a second Subject inserted in transit (above the first,
  // where verifiers look first) must break the signature, not be silently shown to the reader.
  const std::string m = sign_or_die(basic_message(), {make_entry("example.test", "ed", ed25519())});
  std::string forged = m;
  forged.insert(m.find("Subject: quarterly report"), "Subject: urgent: wire money\r\n");
  for (Verifier v : {Verifier::dkimpy, Verifier::mail_dkim}) {
    auto verdicts = run_verifier(v, {m, forged}, keys_for({{"ed", &ed25519()}}));
    ASSERT_TRUE(verdicts) << verdicts.error();
    EXPECT_TRUE((*verdicts)[0].all_pass()) << verifier_name(v) << ": " << (*verdicts)[0].describe();
    EXPECT_TRUE((*verdicts)[1].none_pass()) << verifier_name(v) << ": " << (*verdicts)[1].describe();
  }
}

TEST(DkimSign, SignatureFieldCarriesTheConfiguredTags) {
  auto entry = make_entry("example.test", "s2025", ed25519(), {Canon::relaxed, Canon::simple});
  auto sig = dkim::sign(basic_message(), std::vector{entry}, kNow);
  ASSERT_TRUE(sig) << sig.error().message();
  ASSERT_TRUE(sig->starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=example.test;"))
      << *sig;
  ASSERT_TRUE(sig->ends_with("\r\n"));
  // Folds are CRLF followed by WSP, never a bare LF; the only other line end is the last.
  for (std::size_t pos = sig->find('\n'); pos + 1 < sig->size(); pos = sig->find('\n', pos + 1)) {
    EXPECT_EQ((*sig)[pos - 1], '\r') << *sig;
    EXPECT_TRUE((*sig)[pos + 1] == '\t' || (*sig)[pos + 1] == ' ') << *sig;
  }
  std::string flat;  // tag values without folding white space (RFC 6376 §3.2)
  for (char c : *sig)
    if (c != '\r' && c != '\n' && c != '\t' && c != ' ') flat += c;
  EXPECT_NE(flat.find(";s=s2025;"), std::string::npos) << flat;
  EXPECT_NE(flat.find(fmt::format(";t={};", kNow)), std::string::npos) << "t= is the time passed in: " << flat;
  // h= lists the present fields bottom-up, then over-signs From, Reply-To, Subject, To, Cc,
  // List-Unsubscribe(-Post) once more (absent ones too, so adding one breaks the signature).
  const auto h = flat.find(";h=");
  ASSERT_NE(h, std::string::npos);
  const std::string hlist = flat.substr(h + 3, flat.find(';', h + 1) - h - 3);
  EXPECT_EQ(hlist,
            "From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:From:Reply-To:Subject:To:Cc:"
            "List-Unsubscribe:List-Unsubscribe-Post")
      << flat;
  for (std::size_t pos = 0, next; pos < sig->size(); pos = next + 2) {
    next = sig->find("\r\n", pos);
    EXPECT_LE(next - pos, 78u) << "line longer than 78: " << sig->substr(pos, next - pos);
  }
}

TEST(DkimSign, SameInputSignsToTheSameBytes) {
  // RSASSA-PKCS1-v1_5 and Ed25519 are deterministic and t= is passed in, so signing is a pure
  // function of (message, entries, time): no hidden clock or randomness.
  const std::vector<dkim::SignEntry> entries{make_entry("example.test", "rsa", rsa2048()),
                                             make_entry("example.test", "ed", ed25519())};
  dkim::Signer signer;
  auto a = signer.sign(basic_message(), entries, kNow);
  auto b = dkim::sign(basic_message(), entries, kNow);
  auto c = signer.sign(basic_message(), entries, kNow + 1);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(DkimSign, PerEntryHeaderListsAreIndependent) {
  auto narrow = make_entry("example.test", "rsa", rsa2048());
  narrow.headers = {"From", "Subject"};
  narrow.oversign = {};
  const auto wide = make_entry("example.test", "ed", ed25519());
  auto sig = dkim::sign(basic_message(), std::vector{narrow, wide}, kNow);
  ASSERT_TRUE(sig) << sig.error().message();
  std::string flat;
  for (char c : *sig)
    if (c != '\r' && c != '\n' && c != '\t' && c != ' ') flat += c;
  EXPECT_NE(flat.find("h=From:Subject;"), std::string::npos) << *sig;
  EXPECT_NE(flat.find("h=From:To:Subject:Date:"), std::string::npos) << *sig;
  EXPECT_TRUE(verified_by_both(*sig + basic_message(), keys_for({{"rsa", &rsa2048()}, {"ed", &ed25519()}}), 2));
}

TEST(DkimSign, RawMessageFromTheApiRenderer) {
  // A raw submission as the front renders it: LF line ends normalised, Bcc dropped, Date and
  // Message-ID added; a display name with a comma and a comment in From.
  api::SubmitMessage m;
  m.from = "news@example.test";
  m.to = {"bob@dest.test"};
  m.raw =
      "From: \"Desk, News\" (the newsroom) <News@Example.TEST>\nTo: bob@dest.test\nBcc: hidden@dest.test\n"
      "Subject: =?utf-8?q?caf=C3=A9?=\nList-Unsubscribe: <https://example.test/u/1>\n"
      "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nbody line\n\n";
  const std::string rendered = api::render_message(m, "01TESTID", "mta.example.test", kNow);
  auto view = dkim::split_message(rendered);
  ASSERT_TRUE(view) << view.error();
  ASSERT_EQ(dkim::from_domain(*view), "example.test");
  const std::string signed_msg = sign_or_die(rendered, {make_entry("example.test", "ed", ed25519()),
                                                         make_entry("example.test", "rsa", rsa2048())});
  EXPECT_EQ(signed_msg.find("Bcc:"), std::string::npos);
  EXPECT_TRUE(verified_by_both(signed_msg, keys_for({{"rsa", &rsa2048()}, {"ed", &ed25519()}}), 2));
}

TEST(DkimSign, ErrorsNameTheProblem) {
  const std::vector<dkim::SignEntry> entries{make_entry("example.test", "ed", ed25519())};
  auto bare_lf = dkim::sign("From: a@example.test\nSubject: x\r\n\r\nbody\r\n", entries, kNow);
  ASSERT_FALSE(bare_lf);
  EXPECT_EQ(bare_lf.error().code, dkim::SignErrc::malformed_message);
  EXPECT_NE(bare_lf.error().message().find("bare LF"), std::string::npos) << bare_lf.error().message();

  auto no_from = dkim::sign("Subject: x\r\n\r\nbody\r\n", entries, kNow);
  ASSERT_FALSE(no_from);
  EXPECT_EQ(no_from.error().code, dkim::SignErrc::no_from_field);

  auto nothing = dkim::sign(basic_message(), {}, kNow);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, dkim::SignErrc::no_entries);
}

// Canonicalization edge cases (RFC 6376 §3.4): each message is dual-signed (RSA + Ed25519)
// under each of the four c= combinations and checked by both verifiers, tampering included.
struct EdgeCase {
  const char* name;
  std::string message;
};

std::string with_body(std::string_view extra_headers, std::string_view body) {
  return fmt::format("From: alice@example.test\r\nTo: bob@dest.test\r\nSubject: edge case\r\n{}"
                     "Date: Tue, 25 Nov 2025 19:08:07 +0000\r\nMessage-ID: <e@mta.example.test>\r\n\r\n{}",
                     extra_headers, body);
}

std::vector<EdgeCase> edge_cases() {
  return {
      {"FoldedHeaders",
       "From: \"Alice Example\"\r\n <alice@example.test>\r\nTo: bob@dest.test,\r\n\tcarol@dest.test,  \r\n   dave@dest.test\r\n"
       "Subject:   a subject\r\n  folded\t twice \r\n\tand with tabs\r\nDate: Tue, 25 Nov 2025 19:08:07 +0000\r\n"
       "Message-ID: <f@mta.example.test>\r\n\r\nbody\r\n"},
      {"EightBitBody", with_body("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
                                 "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\r\nraw bytes \xff\xfe\x80\r\n")},
      {"EightBitHeader", "From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nTo: bob@dest.test\r\n"
                         "Subject: Gr\xc3\xbc\xc3\x9f" "e (raw UTF-8 in a header)\r\nMessage-ID: <h@x>\r\n\r\nbody\r\n"},
      {"LongLines", with_body("", std::string(3000, 'x') + "\r\n" + std::string(998, 'y') + " \r\nshort\r\n")},
      {"EmptyBody", with_body("", "")},
      {"OnlyBlankLines", with_body("", "\r\n\r\n\r\n")},
      {"TrailingBlankLines", with_body("", "text\r\n\r\n\r\n\r\n")},
      {"NoFinalLineEnd", with_body("", "last line without CRLF")},
      {"WhitespaceInsideAndAtLineEnds", with_body("", "a  b\t\tc   \r\n \t \r\n\tindented\r\n. leading dot\r\n")},
      {"NoBlankLineAtAll", "From: alice@example.test\r\nSubject: header only\r\nTo: bob@dest.test\r\n"},
      {"DuplicateFields", with_body("Received: from a by b\r\nReceived: from c by d\r\nComments: one\r\nComments: two\r\n",
                                    "body\r\n")},
  };
}

struct CanonCase {
  Canonicalization canon;
  EdgeCase edge;
};

void PrintTo(const CanonCase& c, std::ostream* os) { *os << dkim::to_string(c.canon) << " " << c.edge.name; }

class DkimCanonicalization : public ::testing::TestWithParam<CanonCase> {};

TEST_P(DkimCanonicalization, DualSignedEdgeCaseVerifiesWithBoth) {
  const auto& [canon, edge] = GetParam();
  std::string m = sign_or_die(edge.message, {make_entry("example.test", "rsa", rsa2048(), canon),
                                              make_entry("example.test", "ed", ed25519(), canon)});
  ASSERT_FALSE(m.empty());
  // Verified as the receiver gets it: a body without a final CRLF gets one from the DATA
  // writer (RFC 5321 §4.1.1.4). (dkimpy also accepts the file without it; Mail::DKIM's simple
  // body canonicalization then drops the unterminated last line, contrary to RFC 6376 §3.4.3.)
  if (!m.ends_with("\r\n")) m += "\r\n";
  EXPECT_NE(m.find(fmt::format("c={};", dkim::to_string(canon))), std::string::npos) << m.substr(0, 300);
  EXPECT_TRUE(verified_by_both(m, keys_for({{"rsa", &rsa2048()}, {"ed", &ed25519()}}), 2));
}

std::vector<CanonCase> canon_cases() {
  std::vector<CanonCase> out;
  for (Canonicalization c : {Canonicalization{Canon::simple, Canon::simple}, Canonicalization{Canon::simple, Canon::relaxed},
                             Canonicalization{Canon::relaxed, Canon::simple}, Canonicalization{Canon::relaxed, Canon::relaxed}})
    for (EdgeCase& e : edge_cases()) out.push_back({c, std::move(e)});
  return out;
}

std::string canon_case_name(const ::testing::TestParamInfo<CanonCase>& info) {
  auto word = [](Canon c) { return c == Canon::relaxed ? "Relaxed" : "Simple"; };
  return fmt::format("{}{}_{}", word(info.param.canon.header), word(info.param.canon.body), info.param.edge.name);
}

INSTANTIATE_TEST_SUITE_P(All, DkimCanonicalization, ::testing::ValuesIn(canon_cases()), canon_case_name);

}  // namespace
}  // namespace ringpost::dkim_test
