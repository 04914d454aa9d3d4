// Bounce classification against replies as real servers send them (Gmail, Microsoft 365 /
// Outlook.com, Yahoo, Postfix, Exim, Exchange, blocklist rejections) and the replies ringpost
// makes up itself for failures without one.
#include "engine/api/bounce_class.h"

#include <gtest/gtest.h>

#include <string>

namespace ringpost::api {
namespace {

struct Case {
  int code;
  const char* enhanced;
  const char* text;
  const char* expected;
};

// Replies are given as the reply parser stores them: enhanced code separate when the server
// advertised ENHANCEDSTATUSCODES, lines joined by a space.
constexpr Case kCases[] = {
    // --- Gmail
    {550, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking the "
                   "recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser",
     "unknown_user"},
    {552, "5.2.2", "The email account that you tried to reach is over quota and inactive.", "mailbox_full"},
    {452, "4.2.2", "The email account that you tried to reach is over quota. Please direct the recipient to "
                   "https://support.google.com/mail/?p=OverQuotaTemp",
     "mailbox_full"},
    {550, "5.2.1", "The email account that you tried to reach is disabled.", "unknown_user"},
    {552, "5.2.3", "Your message exceeded Google's message size limits.", "message_too_large"},
    {550, "5.7.26", "This mail has been blocked because the sender is unauthenticated. Gmail requires all senders "
                    "to authenticate with either SPF or DKIM.",
     "auth"},
    {550, "5.7.26", "Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", "auth"},
    {421, "4.7.26", "This mail has been rate limited because it is unauthenticated.", "auth"},
    {550, "5.7.25", "The IP address sending this message does not have a PTR record setup, or the corresponding "
                    "forward DNS entry does not point to the sending IP.",
     "auth"},
    {550, "5.7.1", "[192.0.2.1] Our system has detected that this message is likely unsolicited mail. To reduce "
                   "the amount of spam sent to Gmail, this message has been blocked.",
     "reputation"},
    {550, "5.7.1", "Our system has detected that this message is likely suspicious due to the very low "
                   "reputation of the sending domain.",
     "reputation"},
    {421, "4.7.28", "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your "
                    "IP address.",
     "reputation"},
    {552, "5.7.0", "This message was blocked because its content presents a potential security issue.", "content"},
    {554, "5.6.0", "Mail message is malformed. Not accepted.", "content"},
    {550, "5.7.1", "The user or domain that you are sending to (or from) has a policy that prohibited the mail "
                   "that you sent.",
     "policy"},
    {450, "4.2.1", "The user you are trying to contact is receiving mail too quickly.", "soft"},
    {421, "4.7.0", "Try again later, closing connection. (EHLO)", "soft"},
    // --- Microsoft 365 / Outlook.com / Exchange
    {550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302). [AM0EUR02FT011.eop-EUR02.prod.protection.outlook.com]",
     "unknown_user"},
    {550, "5.4.1", "Recipient address rejected: Access denied. AS(201806281) [DB5EUR01FT011.eop-EUR01.prod.protection.outlook.com]",
     "unknown_user"},
    {550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "bad_domain"},
    {554, "5.2.2", "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
     "mailbox_full"},
    {552, "5.3.4", "Message size exceeds fixed maximum message size", "message_too_large"},
    {550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service "
                   "provider since part of their network is on our block list (S3150).",
     "reputation"},
    {550, "5.7.606", "Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit "
                     "https://sender.office.com/",
     "reputation"},
    {550, "5.7.708", "Service unavailable. Access denied, traffic not accepted from this IP.", "reputation"},
    {550, "5.7.509", "Access denied, sending domain example.com does not pass DMARC verification and has a DMARC "
                     "policy of reject.",
     "auth"},
    {550, "5.7.520", "Access denied, Your organization does not allow external forwarding.", "policy"},
    {451, "4.7.500", "Server busy. Please try again later from [192.0.2.1]. (S77719)", "soft"},
    {452, "4.3.1", "Insufficient system resources (TooManyRecipientsPerMessage)", "soft"},
    // --- Yahoo / AOL
    {554, "", "delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.com) [0] - mta1022.mail.ne1.yahoo.com",
     "unknown_user"},
    {554, "", "delivery error: dd Sorry your message to bob@yahoo.com cannot be delivered. This mailbox is disabled (554.30).",
     "unknown_user"},
    {552, "", "1 Requested mail action aborted, mailbox not found", "unknown_user"},
    {553, "5.7.1", "[BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; "
                   "see https://postmaster.yahooinc.com/error-codes",
     "reputation"},
    {421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
                   "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
     "reputation"},
    {554, "5.7.9", "Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes", "policy"},
    {550, "5.7.9", "This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to "
                   "authenticate with either SPF or DKIM.",
     "auth"},
    // --- Postfix, Exim, Sendmail and blocklists, several without enhanced codes
    {550, "5.1.1", "<bob@example.net>: Recipient address rejected: User unknown in local recipient table", "unknown_user"},
    {450, "4.1.2", "<bob@nowhere.example>: Recipient address rejected: Domain not found", "bad_domain"},
    {554, "5.7.1", "<bob@example.net>: Relay access denied", "policy"},
    {552, "5.3.4", "Message size exceeds fixed limit", "message_too_large"},
    {550, "", "Unrouteable address", "bad_domain"},
    {550, "", "No Such User Here", "unknown_user"},
    {552, "", "Message size exceeds maximum permitted", "message_too_large"},
    {552, "", "Requested mail action aborted: exceeded storage allocation", "mailbox_full"},
    {554, "", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "reputation"},
    {550, "", "Rejected: 192.0.2.1 listed at b.barracudacentral.org", "reputation"},
    {554, "", "5.7.1 Service unavailable; client [192.0.2.1] blocked using an RBL", "reputation"},
    {550, "", "Message rejected: virus found (Eicar-Test-Signature)", "content"},
    {550, "", "SPF check failed for example.com", "auth"},
    {451, "", "Temporary local problem - please try later", "soft"},
    {554, "", "Transaction failed", "hard"},
    {521, "5.3.2", "mx.example.net does not accept mail (nullmx)", "bad_domain"},
    {550, "", "5.1.1 <bob@example.net>... User unknown", "unknown_user"},  // enhanced code only in the text
    {550, "", "Requested action not taken: mailbox unavailable", "unknown_user"},
    {450, "4.7.1", "Client host rejected: cannot find your hostname, [192.0.2.1]", "soft"},
    {451, "4.7.1", "Greylisted, see http://postgrey.schweikert.ch/help/example.net.html", "soft"},
    {450, "4.2.0", "<bob@example.net>: Recipient address rejected: Greylisted, blocked for 300 seconds", "soft"},
    // --- replies ringpost makes up (engine/, smtp/)
    {550, "5.1.2", "domain nowhere.example does not exist (NXDOMAIN)", "bad_domain"},
    {556, "5.1.10", "domain nullmx.example accepts no mail (null MX)", "bad_domain"},
    {451, "4.4.1", "connect to 192.0.2.1:25 failed: Connection refused", "soft"},
    {451, "4.4.1", "connect to mx.example.net:25 timed out", "timeout"},
    {451, "4.4.2", "timed out waiting for DATA reply", "timeout"},
    {451, "4.4.4", "no address found for the mail hosts of example.net", "soft"},
    {451, "4.7.5", "TLS handshake failed: certificate verify failed", "soft"},
    {552, "5.3.4", "message size 30000000 exceeds the server's limit of 10240000 bytes", "message_too_large"},
    {554, "5.6.0", "line 12 is 1200 octets; SMTP allows 998", "content"},
    {550, "5.0.0", "administratively bounced: operator request", "hard"},
    {451, "4.4.7", "delivery time expired", "timeout"},
    {550, "5.4.7", "delivery time expired after 5d", "timeout"},
    // --- no reply at all, or not a failure
    {0, "", "", "unknown"},
    {250, "2.0.0", "Ok: queued as 4XyZ", "unknown"},
    {0, "4.4.1", "connection refused", "soft"},
    {550, "5.7.1", "Delivery not authorized, message refused", "policy"},
    {451, "4.3.0", "cannot read the message from the spool: I/O error", "soft"},
    {550, "", "", "hard"},
    {421, "", "", "soft"},
};

class BounceClass : public ::testing::TestWithParam<Case> {};

TEST_P(BounceClass, Classifies) {
  const Case& c = GetParam();
  EXPECT_EQ(classify_bounce(c.code, c.enhanced, c.text), c.expected)
      << c.code << " " << c.enhanced << " " << c.text;
}

INSTANTIATE_TEST_SUITE_P(RealReplies, BounceClass, ::testing::ValuesIn(kCases));

TEST(BounceClassRules, EnhancedCodeNeedsItsOwnDigits) {
  // "5.1.10" is bad_domain, not "5.1.1" unknown_user with a stray 0; "5.1.1" inside a longer
  // number is not a code.
  EXPECT_EQ(classify_bounce(550, "5.1.10", ""), "bad_domain");
  EXPECT_EQ(classify_bounce(550, "", "5.1.10 null MX"), "bad_domain");
  EXPECT_EQ(classify_bounce(550, "", "15.1.1 something"), "hard");
}

TEST(BounceClassRules, MatchingIsCaseInsensitiveAndWholeWordForShortTerms) {
  EXPECT_EQ(classify_bounce(550, "", "USER UNKNOWN"), "unknown_user");
  EXPECT_EQ(classify_bounce(550, "", "Message failed DMARC"), "auth");
  EXPECT_EQ(classify_bounce(550, "", "the spfx widget is garbled"), "hard");  // neither "spf" nor "rbl"
}

TEST(BounceClassRules, EveryResultIsADocumentedClass) {
  const std::vector<std::string_view> classes = {"hard",    "soft",      "policy",        "reputation",
                                                 "mailbox_full", "unknown_user", "bad_domain", "message_too_large",
                                                 "content", "auth",      "timeout",       "unknown"};
  for (const Case& c : kCases) {
    EXPECT_NE(std::find(classes.begin(), classes.end(), classify_bounce(c.code, c.enhanced, c.text)), classes.end());
  }
  // And every class is reached by at least one real reply above.
  for (const std::string_view k : classes) {
    EXPECT_TRUE(std::any_of(std::begin(kCases), std::end(kCases), [&](const Case& c) { return c.expected == k; })) << k;
  }
}

}  // namespace
}  // namespace ringpost::api
