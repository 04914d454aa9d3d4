// Header canonicalization (RFC 6376 §3.4.1, §3.4.2, with the RFC's example) and the choice of
// signed fields: bottom-up instances (§5.4.2) and over-signing.
#include "dkim/header_canon.h"

#include <gtest/gtest.h>

#include "dkim/message_view.h"

namespace ringpost::dkim_test {
namespace {

using dkim::Canon;

TEST(DkimHeaderCanon, Rfc6376Example) {
  // RFC 6376 §3.4.5: "A: X" and "B : Y<HTAB><CRLF><SP>Z<SP><SP>".
  std::string relaxed, simple;
  for (std::string_view f : {std::string_view("A: X"), std::string_view("B : Y\t\r\n\tZ  ")}) {
    dkim::append_canonical_field(relaxed, f, Canon::relaxed);
    dkim::append_canonical_field(simple, f, Canon::simple);
  }
  EXPECT_EQ(relaxed, "a:X\r\nb:Y Z\r\n");
  EXPECT_EQ(simple, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
}

TEST(DkimHeaderCanon, RelaxedDropsWhitespaceAroundTheValueAndKeepsItsBytes) {
  std::string out;
  dkim::append_canonical_field(out, "Subject:\t \r\n  caf\xc3\xa9   au\tlait \t", Canon::relaxed);
  EXPECT_EQ(out, "subject:caf\xc3\xa9 au lait\r\n");
  out.clear();
  dkim::append_canonical_field(out, "X-Empty:", Canon::relaxed);
  EXPECT_EQ(out, "x-empty:\r\n");
}

dkim::SignEntry entry(std::vector<std::string> headers, std::vector<std::string> oversign) {
  dkim::SignEntry e;
  e.headers = std::move(headers);
  e.oversign = std::move(oversign);
  return e;
}

TEST(DkimHeaderSelection, MessageOrderThenOversignedAndBottomUpInstances) {
  auto view = dkim::split_message(
      "Received: one\r\nFROM: a@x.test\r\nComments: first\r\nSubject: s\r\nComments: second\r\nX-Other: o\r\n\r\nbody\r\n");
  ASSERT_TRUE(view) << view.error();
  const dkim::SignEntry e = entry({"From", "Subject", "Comments", "Reply-To"}, {"From", "Reply-To", "Not-Signed"});
  const auto sel = dkim::select_headers(*view, e);  // views into e
  // Names as configured, message order, then each over-signed name that is also signed.
  std::vector<std::string_view> names(sel.names.begin(), sel.names.end());
  EXPECT_EQ(names, (std::vector<std::string_view>{"From", "Comments", "Subject", "Comments", "From", "Reply-To"}));
  // For the two "Comments" the verifier takes the lowest first; the extra From and the absent
  // Reply-To hash nothing.
  std::vector<std::string_view> fields(sel.fields.begin(), sel.fields.end());
  EXPECT_EQ(fields, (std::vector<std::string_view>{"FROM: a@x.test", "Comments: second", "Subject: s", "Comments: first"}));
}

}  // namespace
}  // namespace ringpost::dkim_test
