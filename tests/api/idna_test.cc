#include "engine/api/idna.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

TEST(Idna, UnicodeDomainsBecomeALabels) {
  EXPECT_EQ(domain_to_ascii("b\xc3\xbc" "cher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(domain_to_ascii("\xe4\xbe\x8b\xe3\x81\x88.jp"), "xn--r8jz45g.jp");
  EXPECT_EQ(domain_to_ascii("m\xc3\xbcnchen.de"), "xn--mnchen-3ya.de");
}

TEST(Idna, UppercaseAndDecomposedFormsMapToTheSameALabel) {
  EXPECT_EQ(domain_to_ascii("B\xc3\x9c" "CHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(domain_to_ascii("bu\xcc\x88" "cher.example"), "xn--bcher-kva.example");  // u + combining diaeresis
}

TEST(Idna, NonTransitionalKeepsSharpS) {
  // IDNA2008 keeps ß (IDNA2003 mapped it to "ss", a different domain).
  EXPECT_EQ(domain_to_ascii("fa\xc3\x9f.de"), "xn--fa-hia.de");
}

TEST(Idna, AsciiIsUntouched) {
  EXPECT_EQ(domain_to_ascii("Example.COM"), "Example.COM");
  EXPECT_EQ(address_to_ascii_domain("Bob@Example.COM"), "Bob@Example.COM");
  EXPECT_EQ(address_to_ascii_domain("bob@[192.0.2.1]"), "bob@[192.0.2.1]");
}

TEST(Idna, OnlyTheDomainOfAnAddressIsConverted) {
  EXPECT_EQ(address_to_ascii_domain("J\xc3\xb6rg@b\xc3\xbc" "cher.example"), "J\xc3\xb6rg@xn--bcher-kva.example");
  EXPECT_EQ(address_to_ascii_domain("\"a@b\"@b\xc3\xbc" "cher.example"), "\"a@b\"@xn--bcher-kva.example");
}

TEST(Idna, DisallowedCodePointsAreRefused) {
  EXPECT_FALSE(domain_to_ascii("\xe2\x98\x83.example").has_value());  // U+2603 SNOWMAN: not PVALID in IDNA2008
  EXPECT_FALSE(address_to_ascii_domain("a@\xe2\x98\x83.example").has_value());
}

}  // namespace
}  // namespace ringpost::api
