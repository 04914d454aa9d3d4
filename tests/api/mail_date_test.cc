#include "engine/api/mail_date.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

// Expected values from Python's email.utils.formatdate, an independent implementation.
TEST(MailDate, Epoch) { EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000"); }
TEST(MailDate, LeapDay) { EXPECT_EQ(rfc5322_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000"); }
TEST(MailDate, Ordinary) { EXPECT_EQ(rfc5322_date(1700000000), "Tue, 14 Nov 2023 22:13:20 +0000"); }
TEST(MailDate, BeforeEpoch) { EXPECT_EQ(rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000"); }
TEST(MailDate, CenturyNotLeap) { EXPECT_EQ(rfc5322_date(4102444800), "Fri, 01 Jan 2100 00:00:00 +0000"); }

}  // namespace
}  // namespace ringpost::api
