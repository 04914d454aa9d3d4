// TLS requirements belong to the message's domain, never to the site its route leads to: two
// domains routed to the same server, one tls = "off" and one tls = "required", must not share
// a plain-text connection. Before issue 20 the site took its policy from whichever domain came
// first, and the "required" domain's mail was delivered in plain text to a server that offers
// no STARTTLS. The far side is fault_smtp.py without STARTTLS.
#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

class TlsPolicy : public FaultTest {};

TEST_F(TlsPolicy, ARequiredDomainNeverRidesAPlainConnectionOpenedForAnotherDomain) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({}));  // no STARTTLS offered
  ASSERT_NO_FATAL_FAILURE(start_ringpost({}, {"1s"}, [&](it::ServerConfig& c) {
    c.extra_toml = fmt::format("[domains.\"strict.test\"]\nroute = \"127.0.0.1:{}\"\ntls = \"required\"\n", smtp_port_);
  }));
  // fault.test (tls = "off") first, so its site and plain connection exist when strict.test comes.
  const std::string plain_id = submit({addr("open")});
  auto plain = poll_status(*api_, plain_id, 20s, all_final);
  ASSERT_TRUE(plain.ok) << plain.history;
  ASSERT_EQ(plain.last.recipients[0].state, "delivered") << plain.history;

  const std::string strict_id = submit({"secret@strict.test"});
  // Deferred for want of TLS, never delivered; watched over two retries (1 s each).
  auto strict = poll_status(*api_, strict_id, 3s, [](const it::MessageStatus& m) {
    return m.recipients[0].state == "delivered";
  });
  EXPECT_FALSE(strict.ok) << "a tls = \"required\" domain was delivered without TLS:" << strict.history;
  EXPECT_EQ(strict.last.recipients[0].state, "deferred") << strict.history;
  ASSERT_TRUE(strict.last.recipients[0].last_reply) << strict.history;
  EXPECT_TRUE(contains_icase(strict.last.recipients[0].last_reply->text, "tls")) << strict.history;
  auto log = script_log();
  EXPECT_EQ(log.messages().size(), 1u) << log.raw;
  for (const FaultEvent& c : log.commands("RCPT")) EXPECT_EQ(c.line.find("strict.test"), std::string::npos) << log.raw;
}

}  // namespace
}  // namespace ringpost::faults
