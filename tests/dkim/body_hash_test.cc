// The body hash against a reference written straight from RFC 6376 §3.4.3/§3.4.4 (line by
// line, whole strings, no blocks and no scanning tricks), over the RFC's own example and
// random bodies built to put WSP runs, CRLFs and bare CR/LF across the block boundaries the
// one-pass hasher cuts at.
#include "dkim/body_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "dkim/sha256.h"
#include "tests/dkim/canon_reference.h"

namespace ringpost::dkim_test {
namespace {

using dkim::BodyHasher;
using dkim::kBodyBlock;
using dkim::sha256;

TEST(DkimBodyHash, Rfc6376Example) {
  // RFC 6376 §3.4.5.
  const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  BodyHasher h;
  const dkim::BodyHashes got = h.hash(body, true, true);
  EXPECT_EQ(*got.relaxed, sha256(" C\r\nD E\r\n"));
  EXPECT_EQ(*got.simple, sha256(" C \r\nD \t E\r\n"));
  EXPECT_EQ(reference_relaxed(body), " C\r\nD E\r\n");
  EXPECT_EQ(reference_simple(body), " C \r\nD \t E\r\n");
}

TEST(DkimBodyHash, EmptyBodies) {
  BodyHasher h;
  for (const std::string body : {"", "\r\n", "\r\n\r\n", " \t \r\n\r\n  "}) {
    const dkim::BodyHashes got = h.hash(body, true, true);
    EXPECT_EQ(*got.simple, sha256(reference_simple(body))) << body;
    EXPECT_EQ(*got.relaxed, sha256("")) << "relaxed of an all-blank body is empty: '" << body << "'";
  }
  EXPECT_EQ(*h.hash("", true, false).simple, sha256("\r\n"));
}

TEST(DkimBodyHash, OnlyTheRequestedCanonicalizations) {
  BodyHasher h;
  const dkim::BodyHashes s = h.hash("a\r\n", true, false);
  EXPECT_TRUE(s.simple.has_value());
  EXPECT_FALSE(s.relaxed.has_value());
  const dkim::BodyHashes r = h.hash("a\r\n", false, true);
  EXPECT_FALSE(r.simple.has_value());
  EXPECT_TRUE(r.relaxed.has_value());
}

// Random bodies, many around block boundaries; `also` sees exactly the body, in order.
TEST(DkimBodyHash, RandomBodiesMatchTheReferenceAcrossBlockBoundaries) {
  std::mt19937 rng(19);
  const std::vector<std::string> pieces{"a", "word", " ", "  ", "\t", " \t ", "\r\n", "\r\n\r\n", "\r", "\n",
                                        "\xc3\xa9", "\xff", "=20", "."};
  std::vector<std::size_t> sizes{0, 1, 7, 8, 9, 100, kBodyBlock - 3, kBodyBlock, kBodyBlock + 2, 2 * kBodyBlock + 5,
                                 3 * kBodyBlock};
  BodyHasher h;
  for (int round = 0; round < 300; ++round) {
    const std::size_t target = round < static_cast<int>(sizes.size()) ? sizes[round] : rng() % (3 * kBodyBlock);
    std::string body;
    while (body.size() < target) body += pieces[rng() % pieces.size()];
    // Trailing blank material in a third of the cases: the ends are where canonicalization acts.
    if (round % 3 == 0) body += std::vector<std::string>{" \r\n", "\r\n\r\n", "\t\t", " \r\n \r\n"}[rng() % 4];
    std::string seen;
    const dkim::BodyHashes got = h.hash(body, true, true, [&](std::string_view block) {
      EXPECT_LE(block.size(), kBodyBlock);
      seen += block;
    });
    ASSERT_EQ(seen, body) << "round " << round;
    ASSERT_EQ(*got.simple, sha256(reference_simple(body))) << "round " << round << " size " << body.size();
    ASSERT_EQ(*got.relaxed, sha256(reference_relaxed(body))) << "round " << round << " size " << body.size();
  }
}

TEST(DkimBodyHash, WhitespaceRunAcrossABlockBoundary) {
  // A run that starts in one block and ends with the CRLF in the next must vanish whole.
  std::string body(kBodyBlock - 2, 'x');
  body += "    \r\ny  z\r\n";
  BodyHasher h;
  EXPECT_EQ(*h.hash(body, false, true).relaxed, sha256(std::string(kBodyBlock - 2, 'x') + "\r\ny z\r\n"));
}

}  // namespace
}  // namespace ringpost::dkim_test
