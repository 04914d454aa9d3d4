// MAIL/RCPT parameter building: what is written for each extension, and that nothing an
// envelope supplies can leave the parameter it belongs to.
#include "smtp/envelope_params.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace ringpost::smtp {
namespace {

Envelope with_dsn(Dsn d) {
  Envelope e;
  e.from = "a@example.test";
  e.recipients = {"b@dest.test", "c@dest.test"};
  e.dsn = std::move(d);
  return e;
}

Capabilities caps_with(bool dsn, std::optional<std::size_t> size = std::nullopt, bool eight = false) {
  Capabilities c;
  c.dsn = dsn;
  c.size = size;
  c.eightbitmime = eight;
  return c;
}

TEST(Xtext, EncodesPlusEqualsAndNonGraphic) {
  EXPECT_EQ(xtext_encode("abc!~"), "abc!~");
  EXPECT_EQ(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
  EXPECT_EQ(xtext_encode("\r\n\x7f\xc3\xa9"), "+0D+0A+7F+C3+A9");
  EXPECT_EQ(xtext_encode(""), "");
}

TEST(Xtext, OutputIsAlwaysGraphicAscii) {
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    std::string in;
    for (int n = static_cast<int>(rng() % 20); n > 0; --n) in += static_cast<char>(rng() % 256);
    for (char c : xtext_encode(in)) {
      ASSERT_TRUE(c >= '!' && c <= '~' && c != '=') << testing::PrintToString(in);
    }
  }
}

TEST(Notify, CanonicalForms) {
  EXPECT_EQ(canonical_notify(""), std::optional<std::string>(""));
  EXPECT_EQ(canonical_notify("never"), std::optional<std::string>("NEVER"));
  EXPECT_EQ(canonical_notify("delay,Failure,SUCCESS"), std::optional<std::string>("SUCCESS,FAILURE,DELAY"));
  EXPECT_EQ(canonical_notify("FAILURE"), std::optional<std::string>("FAILURE"));
  for (const char* bad : {"NEVER,SUCCESS", "SUCCESS,", ",SUCCESS", "SUCCESS,SUCCESS", "SUCCESS FAILURE",
                          "SUCCESS\r\nRSET", "ALWAYS"}) {
    EXPECT_EQ(canonical_notify(bad), std::nullopt) << bad;
  }
}

TEST(MailParameters, SizeBodySmtputf8InOrder) {
  BodyScan body;
  body.wire_size = 1234;
  body.eight_bit = true;
  const Envelope e = with_dsn({});
  EXPECT_EQ(mail_parameters(caps_with(false, 0, true), e, body, true), "SIZE=1234 BODY=8BITMIME SMTPUTF8");
  EXPECT_EQ(mail_parameters(caps_with(false, std::nullopt, true), e, body, false), "BODY=8BITMIME");
  EXPECT_EQ(mail_parameters(caps_with(false, std::nullopt, false), e, body, false), "");
  body.eight_bit = false;
  EXPECT_EQ(mail_parameters(caps_with(false, 5000, true), e, body, false), "SIZE=1234");
}

TEST(MailParameters, DsnOnlyWhenOffered) {
  const Envelope e = with_dsn({"full", "id 1", {"SUCCESS", "never"}, {"orig@x.test", ""}});
  const BodyScan body;
  EXPECT_EQ(mail_parameters(caps_with(true), e, body, false), "RET=FULL ENVID=id+201");
  EXPECT_EQ(mail_parameters(caps_with(false), e, body, false), "");
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 0), "NOTIFY=SUCCESS ORCPT=rfc822;orig@x.test");
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 1), "NOTIFY=NEVER");
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 2), "");  // lists shorter than the recipients
  EXPECT_EQ(rcpt_parameters(caps_with(false), e, 0), "");
  Envelope none = e;
  none.dsn.reset();
  EXPECT_EQ(rcpt_parameters(caps_with(true), none, 0), "");
}

TEST(MailParameters, OverlongDsnValuesAreDropped) {
  Dsn d;
  d.envid = std::string(kMaxEnvid, 'e');
  d.orcpt = {std::string(kMaxOrcpt - 7, 'o'), std::string(kMaxOrcpt - 6, 'o')};  // "rfc822;" is 7
  const Envelope e = with_dsn(d);
  EXPECT_EQ(mail_parameters(caps_with(true), e, BodyScan{}, false), "ENVID=" + d.envid);
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 0), "ORCPT=rfc822;" + d.orcpt[0]);
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 1), "");
  Envelope longer = e;
  longer.dsn->envid += 'e';
  EXPECT_EQ(mail_parameters(caps_with(true), longer, BodyScan{}, false), "");
  // Encoding counts: 34 '+' become 102 characters.
  longer.dsn->envid = std::string(34, '+');
  EXPECT_EQ(mail_parameters(caps_with(true), longer, BodyScan{}, false), "");
}

TEST(MailParameters, NonAsciiOrcptIsDropped) {
  const Envelope e = with_dsn({"", "", {}, {"j\xc3\xb6rg@x.test"}});
  EXPECT_EQ(rcpt_parameters(caps_with(true), e, 0), "");
}

TEST(CommandLine, BaseLengths) {
  EXPECT_EQ(mail_line_octets(""), std::string("MAIL FROM:<>\r\n").size());
  EXPECT_EQ(rcpt_line_octets("b@x"), std::string("RCPT TO:<b@x>\r\n").size());
}

}  // namespace
}  // namespace ringpost::smtp
