// Answers no authoritative server we can run would send: the framing of the message is valid
// (record lengths add up, so c-ares passes it on as ARES_SUCCESS) but a record's owner name
// holds a compression pointer past the end. Such an answer says nothing reliable about the
// domain, so the mail must wait (4xx, like SERVFAIL), not go to the implicit MX and not
// bounce on a "null MX" read from half the answer. Served by CraftedDns on 127.0.0.1.
#include <chrono>

#include <gtest/gtest.h>

#include "tests/dns/dns_message_builder.h"
#include "tests/integration/wait.h"
#include "tests/mx/crafted_dns.h"
#include "tests/mx/mx_fixture.h"

namespace ringpost::mx_test {
namespace {

using namespace std::chrono_literals;
using dns::wire::MessageBuilder;
using dns::wire::Section;

// An answer RR whose owner is a pointer far past the end of the message.
void bad_owner_mx(MessageBuilder& b) {
  b.put16(0xc000 | 0x3f00);
  b.put16(dns::wire::kTypeMx);
  b.put16(1);
  b.put32(300);
  b.put16(3);
  b.put16(10);
  b.put8(0);
}

std::vector<unsigned char> respond(const DnsQuery& q) {
  MessageBuilder b(dns::wire::kNoError, q.id);
  b.question(q.name, q.type);
  if (q.type == dns::wire::kTypeMx && q.name == "garbled.test") {
    bad_owner_mx(b);  // the only record is unreadable
    b.set_count(Section::answer, 1);
  } else if (q.type == dns::wire::kTypeMx && q.name == "nullgarbled.test") {
    b.mx(Section::answer, q.name, 300, 0, ".");  // readable "0 ." ...
    bad_owner_mx(b);                             // ... then an unreadable record
    b.set_count(Section::answer, 2);
  } else if (q.type == dns::wire::kTypeA && (q.name == "garbled.test" || q.name == "nullgarbled.test")) {
    b.a(Section::answer, q.name, 300, "127.0.0.2");  // where an implicit-MX fallback would go
  } else {
    b.soa(Section::authority, "test", 60, 60);  // NODATA for everything else (AAAA)
  }
  return b.bytes();
}

class MxMalformedAnswer : public MxTest {
 protected:
  void SetUp() override {
    MxTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto d = CraftedDns::start(respond);
    ASSERT_TRUE(d) << d.error();
    crafted_ = std::move(*d);
    start_sink("127.0.0.2");
    ASSERT_NO_FATAL_FAILURE(start_ringpost({.dns_server = crafted_->server_spec()}));
  }
  void expect_deferred_not_delivered(const std::string& rcpt) {
    auto id = submit(rcpt);
    // The first attempt ends deferred, and the retries (1 s apart) keep it so.
    std::optional<RecipientStatus> last;
    bool went_final = it::wait_until(3s, 50ms, [&] {
      auto st = api().status(id);
      if (!st || st->recipients.empty()) return false;
      last = st->recipients.front();
      return last->state != "queued" && last->state != "deferred";
    });
    ASSERT_TRUE(last) << "no status for " << id;
    EXPECT_FALSE(went_final) << describe(*last) << "\n" << diagnostics();
    EXPECT_EQ(last->state, "deferred") << describe(*last);
    ASSERT_TRUE(last->last_reply) << describe(*last);
    EXPECT_EQ(last->last_reply->code / 100, 4) << describe(*last);
    EXPECT_EQ(count_at("127.0.0.2"), 0) << "mail went to the domain's A record on a garbled MX answer";
    EXPECT_GT(crafted_->queries(), 0) << "ringpost never asked the crafted server";
  }

  std::unique_ptr<CraftedDns> crafted_;
};

// Regression test for a bug this test found (fixed): a damaged answer must defer (451 4.4.3),
// never act on the records read before the damage (implicit MX, null MX bounce).
TEST_F(MxMalformedAnswer, GarbledMxAnswerDefersInsteadOfUsingTheImplicitMx) {
  expect_deferred_not_delivered("user@garbled.test");
}

// Regression test for a bug this test found (fixed): a damaged answer must defer (451 4.4.3),
// never act on the records read before the damage (implicit MX, null MX bounce).
TEST_F(MxMalformedAnswer, GarbledAnswerStartingWithNullMxIsNotABounce) {
  expect_deferred_not_delivered("user@nullgarbled.test");
}

}  // namespace
}  // namespace ringpost::mx_test
