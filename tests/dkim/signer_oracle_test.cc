// Our signer next to libopendkim (tests/dkim_oracle), an implementation that shares no code with
// it: for the same message, entries and time, the body hash (bh=) and the signed header list
// (h=) must be equal under every canonicalization, for the edge cases where canonicalizations
// differ. The signatures themselves are checked by the two verifiers (signer_test.cc).
// Also: the key is used as parsed at load (the PEM text is never read again) and is shared by
// signing threads without changing a byte of what they produce.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <thread>

#include "dkim/signer.h"
#include "dkim/signing_key.h"
#include "tests/dkim/dkim_fixtures.h"
#include "tests/dkim_oracle/opendkim_oracle.h"

namespace ringpost::dkim_test {
namespace {

constexpr int64_t kNow = 1764100000;
using dkim::Canon;
using dkim::Canonicalization;

// Tag values of every DKIM-Signature field, FWS removed (RFC 6376 §3.2).
std::vector<std::map<std::string, std::string>> tags_of(const std::string& fields) {
  std::vector<std::map<std::string, std::string>> out;
  std::string flat;
  for (char c : fields)
    if (c != '\r' && c != '\n' && c != '\t' && c != ' ') flat += c;
  std::size_t pos = 0;
  while ((pos = flat.find("DKIM-Signature:", pos)) != std::string::npos) {
    pos += 15;
    const std::size_t end = std::min(flat.find("DKIM-Signature:", pos), flat.size());
    std::string value = flat.substr(pos, end - pos);
    std::map<std::string, std::string> tags;
    std::size_t p = 0;
    while (p < value.size()) {
      std::size_t semi = value.find(';', p);
      if (semi == std::string::npos) semi = value.size();
      const std::string tv = value.substr(p, semi - p);
      const std::size_t eq = tv.find('=');
      if (eq != std::string::npos) tags[tv.substr(0, eq)] = tv.substr(eq + 1);
      p = semi + 1;
    }
    out.push_back(std::move(tags));
    pos = end;
  }
  return out;
}

std::string body_variant(std::string_view body) {
  return fmt::format("From: \"Alice\"\r\n <alice@example.test>\r\nTo: bob@dest.test,\r\n\tcarol@dest.test  \r\n"
                     "Subject:   edge\t case \r\nComments: one\r\nComments: two\r\nDate: Tue, 25 Nov 2025 19:08:07 +0000\r\n"
                     "Message-ID: <o@mta.example.test>\r\n\r\n{}",
                     body);
}

TEST(DkimOracle, BodyHashAndHeaderListEqualLibopendkims) {
  const std::vector<std::string> bodies{
      "", "\r\n\r\n\r\n", "text\r\n\r\n\r\n", "a  b\t\tc   \r\n \t \r\n\tindented\r\n. dot\r\n",
      "Gr\xc3\xbc\xc3\x9f" "e \xff\xfe\x80\r\n", "last line without CRLF  ", std::string(70000, 'x') + "  \r\n" + std::string(40000, ' ') + "y\r\n"};
  int compared = 0;
  for (Canonicalization canon : {Canonicalization{Canon::simple, Canon::simple}, Canonicalization{Canon::simple, Canon::relaxed},
                                 Canonicalization{Canon::relaxed, Canon::simple}, Canonicalization{Canon::relaxed, Canon::relaxed}}) {
    auto rsa = make_entry("example.test", "rsa", rsa2048(), canon);
    rsa.headers.push_back("Comments");
    const auto ed = make_entry("example.test", "ed", ed25519(), canon);
    const std::vector<dkim::SignEntry> entries{rsa, ed};
    for (const std::string& body : bodies) {
      const std::string message = body_variant(body);
      auto ours = dkim::sign(message, entries, kNow);
      auto theirs = opendkim_sign(message, entries, kNow);
      ASSERT_TRUE(ours) << ours.error().message();
      ASSERT_TRUE(theirs) << theirs.error().message();
      const auto a = tags_of(*ours), b = tags_of(*theirs);
      ASSERT_EQ(a.size(), 2u) << *ours;
      ASSERT_EQ(b.size(), 2u) << *theirs;
      for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(a[i].at("bh"), b[i].at("bh")) << dkim::to_string(canon) << " body of " << body.size() << " bytes";
        EXPECT_EQ(a[i].at("h"), b[i].at("h")) << dkim::to_string(canon);
        EXPECT_EQ(a[i].at("c"), b[i].at("c"));
        EXPECT_EQ(a[i].at("a"), b[i].at("a"));
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 4 * 7 * 2);
}

TEST(DkimOracle, TheKeyIsUsedAsParsedAtLoadNotReadAgain) {
  // A copy of the key whose PEM text is gone: libopendkim, which re-reads the PEM per
  // signature, cannot sign with it; ours signs as before, byte for byte.
  auto blank = std::make_shared<dkim::SigningKey>(*rsa2048().key);
  blank->private_pem.clear();
  auto entry = make_entry("example.test", "rsa", rsa2048());
  const std::string message = body_variant("hello\r\n");
  auto with_pem = dkim::sign(message, std::vector{entry}, kNow);
  entry.key = blank;
  auto without_pem = dkim::sign(message, std::vector{entry}, kNow);
  ASSERT_TRUE(with_pem && without_pem);
  EXPECT_EQ(*with_pem, *without_pem);
  EXPECT_FALSE(opendkim_sign(message, std::vector{entry}, kNow));
}

TEST(DkimOracle, SigningThreadsShareOneParsedKeyAndProduceTheSameBytes) {
  // Four threads, each with its own Signer, all with the same two keys: every signature equals
  // the one a single thread makes (RSA PKCS#1 v1.5 and Ed25519 are deterministic), so sharing
  // the EVP_PKEY disturbs nothing; a sample verifies with both verifiers.
  const std::vector<dkim::SignEntry> entries{make_entry("example.test", "rsa", rsa2048()),
                                             make_entry("example.test", "ed", ed25519())};
  constexpr int kThreads = 4, kPerThread = 40;
  std::vector<std::string> messages;
  for (int i = 0; i < kPerThread; ++i) messages.push_back(body_variant(fmt::format("message {}\r\n", i)));
  std::vector<std::string> expected;
  dkim::Signer one;
  for (const std::string& m : messages) {
    auto s = one.sign(m, entries, kNow);
    ASSERT_TRUE(s) << s.error().message();
    expected.push_back(*s);
  }
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      dkim::Signer mine;
      for (int round = 0; round < 3; ++round)
        for (const std::string& m : messages) {
          auto s = mine.sign(m, entries, kNow);
          got[t].push_back(s ? *s : "error: " + s.error().message());
        }
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), 3u * kPerThread);
    for (std::size_t i = 0; i < got[t].size(); ++i) ASSERT_EQ(got[t][i], expected[i % kPerThread]) << "thread " << t;
  }
  KeySource keys;
  keys.txt = {txt_record("example.test", "rsa", rsa2048()), txt_record("example.test", "ed", ed25519())};
  EXPECT_TRUE(verified_by_both(got[3][7] + messages[7], keys, 2));
}

}  // namespace
}  // namespace ringpost::dkim_test
