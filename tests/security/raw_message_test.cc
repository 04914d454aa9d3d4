// check_raw_message and address_list_domains (engine/api/raw_message.h): the rules a raw
// message passes at submit and the domains tenant isolation judges.
#include "engine/api/raw_message.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

using Domains = std::vector<std::string>;

TEST(AddressListDomains, NameAddrQuotedCommentsAndGroups) {
  EXPECT_EQ(*address_list_domains(" a@Example.TEST"), Domains({"example.test"}));
  EXPECT_EQ(*address_list_domains(" \"x@fake.test\" <a@real.test>"), Domains({"real.test"}));
  EXPECT_EQ(*address_list_domains(" a@real.test (b@fake.test)"), Domains({"real.test"}));
  EXPECT_EQ(*address_list_domains(" Ann <a@one.test>, b@two.test"), Domains({"one.test", "two.test"}));
  EXPECT_EQ(*address_list_domains(" team: a@one.test, b@two.test;"), Domains({"one.test", "two.test"}));
  EXPECT_EQ(*address_list_domains(" undisclosed-recipients:;"), Domains({}));
  EXPECT_EQ(*address_list_domains(" \"Doe, Ann\" <a@one.test>"), Domains({"one.test"}));
  EXPECT_EQ(*address_list_domains(" Ann\r\n <a@folded.test>"), Domains({"folded.test"}));
  EXPECT_EQ(*address_list_domains(" (nested (comment) b@x.test) a@y.test"), Domains({"y.test"}));
  EXPECT_EQ(*address_list_domains(" b@[IPv6:2001:db8::1]"), Domains({"[ipv6:2001:db8::1]"}));
  EXPECT_EQ(*address_list_domains(" \"Ann\" <b@[IPv6:2001:db8::1]>"), Domains({"[ipv6:2001:db8::1]"}));
  EXPECT_FALSE(address_list_domains(" nobody"));
  EXPECT_FALSE(address_list_domains(" Ann <a@b.test"));
  EXPECT_FALSE(address_list_domains(" a@"));
}

TEST(CheckRawMessage, AcceptsAndExtracts) {
  auto info = check_raw_message("From: Ann <a@one.test>\r\nSender: s@two.test\r\nSubject: hi\r\n there\r\n\r\nbody\r\n");
  ASSERT_TRUE(info) << info.error();
  EXPECT_EQ(info->from_domains, Domains({"one.test"}));
  EXPECT_EQ(info->sender_domains, Domains({"two.test"}));
  ASSERT_EQ(info->fields.size(), 3u);
  EXPECT_EQ(info->fields[2].value, " hi\r\n there");
  EXPECT_FALSE(info->header_8bit);
}

TEST(CheckRawMessage, BareLineBreaksCountAsLineBreaks) {
  auto lf = check_raw_message("From: a@one.test\nSubject: x\n\nbody");
  ASSERT_TRUE(lf) << lf.error();
  EXPECT_EQ(lf->fields.size(), 2u);
  EXPECT_TRUE(check_raw_message("From: a@one.test\rSubject: x\r\rbody"));
}

TEST(CheckRawMessage, Utf8HeaderNeedsSmtputf8) {
  auto info = check_raw_message("From: a@one.test\r\nSubject: Grüße\r\n\r\nbody ü");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->header_8bit);
  auto body_only = check_raw_message("From: a@one.test\r\n\r\nbody ü");
  ASSERT_TRUE(body_only);
  EXPECT_FALSE(body_only->header_8bit);
}

TEST(CheckRawMessage, Refusals) {
  const std::string long_line(999, 'x');
  struct {
    std::string raw;
    std::string reason_part;
  } cases[] = {
      {"Subject: x\r\n\r\nb", "no From"},
      {"From: a@one.test\r\nFrom: a@one.test\r\n\r\nb", "2 From"},
      {"From: a@one.test\r\nsender: a@one.test\r\nSender: b@one.test\r\n\r\nb", "2 Sender"},
      {"From: a@one.test\r\nTo: a@one.test\r\nTO: b@one.test\r\n\r\nb", "2 To"},
      {"From: a@one.test\r\nMessage-ID: <a@b>\r\nMessage-Id: <c@d>\r\n\r\nb", "2 Message-ID"},
      {"From: a@one.test\r\nDate: 1\r\nDate: 2\r\n\r\nb", "2 Date"},
      {"From: a@one.test\r\nSubject: 1\r\nSubject: 2\r\n\r\nb", "2 Subject"},
      {std::string("From: a@one.test\r\n\r\nb\0c", 23), "NUL"},
      {"From: a@one.test\r\n\r\n" + long_line, "998"},
      {"From: a@one.test\r\nX: " + long_line + "\r\n\r\nb", "998"},
      {"From: a@one.test\r\nnot a field\r\n\r\nb", "not a field"},
      {"From: a@one.test\r\nSubject: x", "no blank line"},
      {" From: a@one.test\r\n\r\nb", "must start"},
      {"From: nobody\r\n\r\nb", "not an address"},
      {"From: a@one.test\r\nSender: a@one.test, b@two.test\r\n\r\nb", "more than one"},
  };
  for (const auto& c : cases) {
    auto r = check_raw_message(c.raw);
    ASSERT_FALSE(r) << c.raw;
    EXPECT_NE(r.error().find(c.reason_part), std::string::npos) << r.error();
  }
}

TEST(CheckRawMessage, ExactlyAtTheLineLimit) {
  EXPECT_TRUE(check_raw_message("From: a@one.test\r\n\r\n" + std::string(998, 'x')));
  EXPECT_TRUE(check_raw_message("From: a@one.test\n\n" + std::string(998, 'x') + "\n" + std::string(998, 'y')));
}

}  // namespace
}  // namespace ringpost::api
