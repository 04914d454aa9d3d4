// parse_capabilities(): keywords from EHLO reply text as ReplyParser produces it.
#include "smtp/capabilities.h"

#include <gtest/gtest.h>

namespace ringpost::smtp {
namespace {

TEST(Capabilities, AllKnownKeywords) {
  const Reply r{250, "",
                "mx.dest.test Hello\nPIPELINING\nCHUNKING\nSTARTTLS\nSMTPUTF8\n8BITMIME\n"
                "ENHANCEDSTATUSCODES\nDSN\nSIZE 52428800"};
  const Capabilities c = parse_capabilities(r);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.chunking);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.smtputf8);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_TRUE(c.enhancedstatuscodes);
  EXPECT_TRUE(c.dsn);
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 52428800u);
}

TEST(Capabilities, CaseInsensitiveAndUnknownIgnored) {
  const Capabilities c = parse_capabilities(Reply{250, "", "mx\npipelining\nX-FOO bar\nStartTLS\nAUTH PLAIN LOGIN"});
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.starttls);
  EXPECT_FALSE(c.chunking);
  EXPECT_FALSE(c.size.has_value());
}

TEST(Capabilities, FirstLineIsNotAKeyword) {
  // The greeting line is the server's name; a server called "PIPELINING" offers nothing.
  const Capabilities c = parse_capabilities(Reply{250, "", "PIPELINING"});
  EXPECT_EQ(c, Capabilities{});
}

TEST(Capabilities, SizeVariants) {
  EXPECT_EQ(parse_capabilities(Reply{250, "", "mx\nSIZE"}).size, std::optional<std::size_t>(0));
  EXPECT_EQ(parse_capabilities(Reply{250, "", "mx\nSIZE 0"}).size, std::optional<std::size_t>(0));
  EXPECT_EQ(parse_capabilities(Reply{250, "", "mx\nSIZE junk"}).size, std::optional<std::size_t>(0));
  EXPECT_EQ(parse_capabilities(Reply{250, "", "mx\nsize   1000  "}).size, std::optional<std::size_t>(1000));
}

TEST(Capabilities, KeywordMustMatchWholeWord) {
  const Capabilities c = parse_capabilities(Reply{250, "", "mx\nPIPELININGX\nXDSN\nSIZEX 10"});
  EXPECT_EQ(c, Capabilities{});
}

}  // namespace
}  // namespace ringpost::smtp
