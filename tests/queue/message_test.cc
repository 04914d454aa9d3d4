#include "queue/message.h"

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

TEST(DomainOf, LowerCasesThePartAfterTheAt) {
  EXPECT_EQ(domain_of("Bob@Example.TEST"), "example.test");
  EXPECT_EQ(domain_of("bob@example.test"), "example.test");
  EXPECT_EQ(domain_of("MAILER-DAEMON@Mx.Sub.Example.Org"), "mx.sub.example.org");
}

TEST(DomainOf, LocalPartIsLeftAlone) {
  // Only the domain is case-folded; the local part is not part of the key at all.
  EXPECT_EQ(domain_of("UPPER.Case+Tag@D.test"), "d.test");
}

TEST(DomainOf, UsesTheLastAtBecauseQuotedLocalPartsMayContainOne) {
  EXPECT_EQ(domain_of("\"a@b\"@Example.test"), "example.test");
  EXPECT_EQ(domain_of("a@b@C.test"), "c.test");
}

TEST(DomainOf, AddressLiteralKeepsItsBrackets) {
  EXPECT_EQ(domain_of("postmaster@[192.0.2.1]"), "[192.0.2.1]");
  EXPECT_EQ(domain_of("x@[IPv6:2001:DB8::1]"), "[ipv6:2001:db8::1]");
}

TEST(DomainOf, NoAtOrNothingAfterItGivesEmpty) {
  EXPECT_EQ(domain_of("postmaster"), "");
  EXPECT_EQ(domain_of(""), "");
  EXPECT_EQ(domain_of("bob@"), "");
  EXPECT_EQ(domain_of("@example.test"), "example.test");
}

TEST(DomainOf, NonAsciiBytesAreNotTouched) {
  // ASCII-only folding: UTF-8 bytes pass through unchanged whatever the locale.
  EXPECT_EQ(domain_of("a@B\xC3\x9C" "CHER.test"), "b\xC3\x9C" "cher.test");
}

}  // namespace
}  // namespace ringpost::queue
