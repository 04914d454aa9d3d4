#include "engine/api/mail_address.h"

#include <gtest/gtest.h>

#include <string>

namespace ringpost::api {
namespace {

class ValidMailbox : public ::testing::TestWithParam<std::string> {};
class InvalidMailbox : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidMailbox, Accepted) {
  const auto r = check_mailbox(GetParam());
  EXPECT_TRUE(r.has_value()) << GetParam() << ": " << (r ? "" : r.error());
}

TEST_P(InvalidMailbox, Refused) { EXPECT_FALSE(is_valid_mailbox(GetParam())) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Rfc5321, ValidMailbox,
    ::testing::Values("a@example.com", "first.last+tag@sub.example.co.uk", "UPPER@Example.COM", "x@localhost",
                      "!#$%&'*+-/=?^_`{|}~@example.com", "\"john doe\"@example.com", "\"a@b\"@example.com",
                      "\"quote\\\"inside\"@example.com", "\"\"@example.com", "user@[192.0.2.1]",
                      "user@[IPv6:2001:db8::1]", "user@[ipv6:::ffff:192.0.2.1]", "user@a-b.c1.example",
                      "1@2.example", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
                      "j\xc3\xb6rg@m\xc3\xbcller.example", std::string(64, 'l') + "@example.com",
                      // 254 octets exactly: 64 + 1 + 189
                      std::string(64, 'l') + "@" + std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                          std::string(61, 'c')));

INSTANTIATE_TEST_SUITE_P(
    Rfc5321, InvalidMailbox,
    ::testing::Values("", "plain", "@example.com", "a@", "a..b@example.com", ".a@example.com", "a.@example.com",
                      "a b@example.com", "a,b@example.com", "<a@example.com>", "a@exa mple.com", "a@-example.com",
                      "a@example-.com", "a@example..com", "a@.example.com", "a@example.com.", "a\r\n@example.com",
                      "a@example.com\r\n", "a@b\n.com", std::string("a\0b@example.com", 15), "a@b@example.com",
                      "\"unterminated@example.com", "\"a\"b@example.com", "\"a\tb\"@example.com",
                      "\"a\\\nb\"@example.com", std::string(65, 'l') + "@example.com",
                      "a@" + std::string(64, 'd') + ".com", std::string(64, 'l') + "@" + std::string(63, 'a') + "." +
                                                                std::string(63, 'b') + "." + std::string(62, 'c'),
                      "a@[300.1.1.1]", "a@[1.2.3]", "a@[1.2.3.4.5]", "a@[1.2.3.4", "a@[IPv6:zz::1]",
                      "a@[IPv6:1::2::3]", "a@[IPv6:fe80::1%eth0]", "a@[foo:bar]", "a@[]", "a@192.0.2.1",
                      "a\xff@example.com", "a@ex\xc3.com", "a@exam_ple.com"));

TEST(Mailbox, ReasonNamesTheProblem) {
  EXPECT_EQ(check_mailbox("a@192.0.2.1").error(),
            "domain ends in an all-digit label; write an IP address as [192.0.2.1]");
  EXPECT_EQ(check_mailbox(std::string(65, 'l') + "@x.example").error(), "local part is longer than 64 octets");
  EXPECT_EQ(check_mailbox("nobody").error(), "address has no @");
}

}  // namespace
}  // namespace ringpost::api
