// The submit fields added for issue 8: display names, reply_to, attachments, tags, metadata,
// send_at, configurable limits and IDNA. Every error names its exact field.
#include <gtest/gtest.h>

#include <string>

#include "engine/api/submit_request.h"

namespace ringpost::api {
namespace {

constexpr int64_t kNowMs = int64_t{1795680000} * 1000;  // 2026-11-26T08:00:00Z
constexpr std::string_view kBase = R"("from":"a@example.com","to":"b@example.net","text":"x")";

std::string msg(std::string_view extra) { return "{" + std::string(kBase) + (extra.empty() ? "" : ",") + std::string(extra) + "}"; }

tl::expected<SubmitMessage, ApiError> parse(std::string_view json, const SubmitLimits& limits = {}) {
  return parse_submit(json, limits, kNowMs);
}

SubmitMessage ok(std::string_view json, const SubmitLimits& limits = {}) {
  auto r = parse(json, limits);
  EXPECT_TRUE(r.has_value()) << json << "\n  " << (r ? "" : r.error().field + ": " + r.error().message);
  return r ? std::move(*r) : SubmitMessage{};
}

void expect_error(std::string_view json, std::string_view code, std::string_view field, int status = 400) {
  const auto r = parse(json);
  ASSERT_FALSE(r.has_value()) << json;
  EXPECT_EQ(r.error().code, code) << json << "\n  message: " << r.error().message;
  EXPECT_EQ(r.error().field, field) << json;
  EXPECT_EQ(r.error().http_status, status) << json;
  EXPECT_FALSE(r.error().message.empty());
}

// --- display names

TEST(ParseSubmitFields, AddressObjectsCarryDisplayNames) {
  const SubmitMessage m = ok(R"({"from":{"address":"a@example.com","name":"Ann \u00c5berg"},
    "to":["b@example.net",{"address":"c@example.net","name":"Carl"},{"address":"d@example.net"}],
    "cc":{"address":"e@example.org","name":"Eve"},"bcc":{"address":"f@example.org","name":"unused"},"text":"x"})");
  EXPECT_EQ(m.from, "a@example.com");
  EXPECT_EQ(m.from_name, "Ann \xc3\x85" "berg");
  EXPECT_EQ(m.to, (std::vector<std::string>{"b@example.net", "c@example.net", "d@example.net"}));
  EXPECT_EQ(m.to_names, (std::vector<std::string>{"", "Carl", ""}));
  EXPECT_EQ(m.cc, std::vector<std::string>{"e@example.org"});
  EXPECT_EQ(m.cc_names, std::vector<std::string>{"Eve"});
  EXPECT_EQ(m.bcc, std::vector<std::string>{"f@example.org"});
}

TEST(ParseSubmitFields, NoNamesLeaveTheNameListsEmpty) {
  const SubmitMessage m = ok(R"({"from":"a@example.com","to":["b@example.net",{"address":"c@example.net","name":null}],"text":"x"})");
  EXPECT_TRUE(m.from_name.empty());
  EXPECT_TRUE(m.to_names.empty());
}

TEST(ParseSubmitFields, AddressObjectErrors) {
  expect_error(R"({"from":{"name":"Ann"},"to":"b@example.net","text":"x"})", "missing_field", "from.address");
  expect_error(R"({"from":{"address":"a@example.com","nmae":"Ann"},"to":"b@example.net","text":"x"})", "unknown_field",
               "from.nmae");
  expect_error(R"({"from":"a@example.com","to":[{"address":"b@example.net","address":"c@example.net"}],"text":"x"})",
               "duplicate_field", "to[0].address");
  expect_error(R"({"from":"a@example.com","to":[{"address":"bad"}],"text":"x"})", "invalid_address", "to[0].address");
  expect_error(R"({"from":"a@example.com","to":[{"address":5}],"text":"x"})", "invalid_type", "to[0].address");
  expect_error(R"({"from":"a@example.com","to":[{"address":"b@example.net","name":5}],"text":"x"})", "invalid_type",
               "to[0].name");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","cc":[{"address":"c@example.net","name":"a\nBcc: x"}],"text":"x"})",
               "invalid_display_name", "cc[0].name");
  expect_error(R"({"from":{"address":"a@example.com","name":")" + std::string(257, 'n') + R"("},"to":"b@example.net","text":"x"})",
               "invalid_display_name", "from.name");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","cc":[{"address":"c@example.net","name":"\u0085"}],"text":"x"})",
               "invalid_display_name", "cc[0].name");
}

// Issue 18 item 6: the string form every mail API takes, "Name <address>".
TEST(ParseSubmitFields, NameAddrStringFormCarriesTheDisplayName) {
  const SubmitMessage m = ok(R"({"from":"Ann <a@example.com>","to":["\"Lee, Bo\" <b@example.net>","<c@example.net>"],"text":"x"})");
  EXPECT_EQ(m.from, "a@example.com");
  EXPECT_EQ(m.from_name, "Ann");
  EXPECT_EQ(m.to, (std::vector<std::string>{"b@example.net", "c@example.net"}));
  EXPECT_EQ(m.to_names, (std::vector<std::string>{"Lee, Bo", ""}));
  // A bad address inside the brackets is still a bad address.
  expect_error(R"({"from":"Ann <not an address>","to":"b@example.net","text":"x"})", "invalid_address", "from");
}

// --- reply_to

TEST(ParseSubmitFields, ReplyToTakesOneOrManyAddresses) {
  EXPECT_EQ(ok(msg(R"("reply_to":"help@example.com")")).reply_to, (std::vector<NamedAddress>{{"help@example.com", ""}}));
  EXPECT_EQ(ok(msg(R"("reply_to":{"address":"help@example.com","name":"Help"})")).reply_to,
            (std::vector<NamedAddress>{{"help@example.com", "Help"}}));
  EXPECT_EQ(ok(msg(R"("reply_to":["x@example.com",{"address":"y@example.com","name":"Y"}])")).reply_to,
            (std::vector<NamedAddress>{{"x@example.com", ""}, {"y@example.com", "Y"}}));
  EXPECT_TRUE(ok(msg(R"("reply_to":null)")).reply_to.empty());
}

TEST(ParseSubmitFields, ReplyToErrors) {
  expect_error(msg(R"("reply_to":42)"), "invalid_type", "reply_to");
  expect_error(msg(R"("reply_to":["x@example.com","nope"])"), "invalid_address", "reply_to[1]");
  expect_error(msg(R"("reply_to":"x@example.com","headers":{"reply-to":"y@example.com"})"), "conflicting_fields",
               "headers.reply-to");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","raw":"A: b\n\nc","reply_to":"x@example.com"})",
               "conflicting_fields", "reply_to");
}

TEST(ParseSubmitFields, ReplyToHeaderAloneStillWorks) {
  const SubmitMessage m = ok(msg(R"("headers":{"Reply-To":"help@example.com"})"));
  EXPECT_TRUE(m.reply_to.empty());
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].first, "Reply-To");
}

// --- IDNA

TEST(ParseSubmitFields, UnicodeDomainsAreConvertedToALabelsEverywhere) {
  const SubmitMessage m = ok(R"({"from":"a@b\u00fccher.example","to":"Bob@B\u00dcCHER.example",
    "cc":["c@\u4f8b\u3048.jp"],"bcc":"d@m\u00fcnchen.de","reply_to":"r@r\u00e9ponse.example","text":"x"})");
  EXPECT_EQ(m.from, "a@xn--bcher-kva.example");
  EXPECT_EQ(m.to, std::vector<std::string>{"Bob@xn--bcher-kva.example"});  // local part keeps its case
  EXPECT_EQ(m.cc, std::vector<std::string>{"c@xn--r8jz45g.jp"});
  EXPECT_EQ(m.bcc, std::vector<std::string>{"d@xn--mnchen-3ya.de"});
  EXPECT_EQ(m.reply_to[0].address, "r@xn--rponse-bva.example");
}

TEST(ParseSubmitFields, IdnaLeavesLocalPartAlone) {
  const SubmitMessage m =
      ok(R"({"from":"a@example.com","to":"j\u00f6rg@b\u00fccher.example","text":"x","smtputf8":true})");
  EXPECT_EQ(m.to, std::vector<std::string>{"j\xc3\xb6rg@xn--bcher-kva.example"});
}

// --- SMTPUTF8

// Issue 18 item 7: SMTPUTF8 is detected, not asked for; only an explicit false refuses.
TEST(ParseSubmitFields, NonAsciiLocalPartIsDetected) {
  for (const char* json : {R"({"from":"j\u00f6rg@example.com","to":"b@example.net","text":"x"})",
                           R"({"from":"a@example.com","to":["b@example.net","j\u00f6rg@example.net"],"text":"x"})",
                           R"({"from":"a@example.com","to":"b@example.net","bcc":"\u7528\u6237@example.net","text":"x"})",
                           R"({"from":"a@example.com","to":"b@example.net","reply_to":[{"address":"r\u00e9@example.net"}],"text":"x"})"}) {
    const auto r = parse(json);
    ASSERT_TRUE(r.has_value()) << json;
    EXPECT_TRUE(r->needs_smtputf8) << json;
  }
  const auto refused = [](std::string_view json, std::string_view field) {
    const auto r = parse(json);
    ASSERT_FALSE(r.has_value()) << json;
    EXPECT_EQ(r.error().http_status, 422);
    EXPECT_EQ(r.error().code, "smtputf8_required");
    EXPECT_EQ(r.error().field, field);
  };
  refused(R"({"from":"a@example.com","to":"b@example.net","text":"x","smtputf8":false,"cc":"\u00e9@example.net"})", "cc");
  refused(R"({"from":{"address":"\u00e9@example.com","name":"E"},"to":"b@example.net","text":"x","smtputf8":false})", "from.address");
  refused(R"({"from":"a@example.com","to":"b@example.net","raw":"From: a@example.com\nSubject: Gr\u00fc\u00dfe\n\nx","smtputf8":false})", "raw");
  // A Unicode domain alone is not a reason: it is sent as A-labels.
  const auto idn = parse(R"({"from":"a@example.com","to":"b@b\u00fccher.example","text":"x"})");
  ASSERT_TRUE(idn.has_value());
  EXPECT_FALSE(idn->needs_smtputf8);
  const SubmitMessage m = ok(R"({"from":"j\u00f6rg@example.com","to":"b@example.net","text":"x","smtputf8":true})");
  EXPECT_EQ(m.from, "j\xc3\xb6rg@example.com");
  expect_error(R"({"from":"a@example.com","to":"b@example.net","text":"x","smtputf8":"yes"})", "invalid_type", "smtputf8");
}

TEST(ParseSubmitFields, LimitErrorsNameTheLimitAndItsValue) {
  SubmitLimits limits;
  limits.max_recipients = 1;
  limits.max_message_bytes = 3;
  auto r = parse(R"({"from":"a@example.com","to":["b@example.net","c@example.net"],"text":"x"})", limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().limit, "max_recipients_per_message");
  EXPECT_EQ(r.error().limit_value, 1u);
  EXPECT_NE(to_json(r.error()).find(R"("limit":{"name":"max_recipients_per_message","value":1})"), std::string::npos)
      << to_json(r.error());
  r = parse(R"({"from":"a@example.com","to":"b@example.net","text":"xxxx"})", limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "message_too_large");
  EXPECT_EQ(r.error().limit, "max_message_bytes");
  EXPECT_EQ(r.error().limit_value, 3u);
  EXPECT_NE(r.error().message.find("max_message_bytes"), std::string::npos) << r.error().message;
  limits.max_batch = 1;
  const std::string item = R"({"from":"a@example.com","to":"b@example.net","text":"x"})";
  const auto b = parse_batch(R"({"messages":[)" + item + "," + item + "]}", limits, kNowMs);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().error.code, "batch_too_large");
  EXPECT_EQ(b.error().error.limit, "max_batch_messages");
  EXPECT_EQ(b.error().error.limit_value, 1u);
}

TEST(ParseSubmitFields, DuplicatesAcrossSpellingsOfOneDomainCollapse) {
  const SubmitMessage m = ok(R"({"from":"a@example.com","to":"bob@b\u00fccher.example","cc":"bob@xn--bcher-kva.example","text":"x"})");
  EXPECT_EQ(m.envelope_recipients(), std::vector<std::string>{"bob@xn--bcher-kva.example"});
}

TEST(ParseSubmitFields, InvalidInternationalDomainsAreRefused) {
  expect_error(R"({"from":"a@example.com","to":["ok@example.net","x@\u2603.example"],"text":"x"})", "invalid_address",
               "to[1]");
  // 31 Greek and 21 CJK letters: a label whose A-label (112 octets) passes 63.
  const std::string greek = R"(\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0\u03c1\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u03ac\u03ad\u03ae\u03af\u03cc\u03cd\u03ce)";
  const std::string cjk = R"(\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d\u5341\u767e\u5343\u4e07\u4ebf\u5146\u4eac\u5793\u79ed\u7a70\u6c9f\u6da7)";
  expect_error(R"({"from":"a@example.com","to":"x@)" + greek + cjk + R"(.example","text":"x"})", "invalid_address", "to");
}

TEST(ParseSubmitFields, LabelLimitAppliesToTheALabel) {
  // 35 Greek letters are 70 UTF-8 octets, but only 51 as an A-label: a valid label. (The
  // expected A-label is Python's punycode codec output, an independent encoder.)
  const std::string label = R"(\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0\u03c1\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u03ac\u03ad\u03ae\u03af\u03cc\u03cd\u03ce\u03b1\u03b1\u03b1\u03b1)";
  const SubmitMessage m = ok(R"({"from":"a@example.com","to":"x@)" + label + R"(.example","text":"x"})");
  EXPECT_EQ(m.to, std::vector<std::string>{"x@xn--hxacdegeaaaclmnopqrstuvwxyz6c1a2a3a4a5a6a7h8a9a.example"});
}

// --- attachments

std::string attachments(std::string_view items) { return msg(R"("html":"<p>x</p>","attachments":[)" + std::string(items) + "]"); }

TEST(ParseSubmitFields, AttachmentsAreDecoded) {
  const SubmitMessage m = ok(attachments(
      R"({"filename":"a.bin","content_type":"application/octet-stream","content_base64":"AAEC/w=="},
         {"filename":"logo.png","content_type":"image/png","content_base64":"iVBO\r\nRw==","content_id":"logo@x"},
         {"filename":"empty.txt","content_type":"text/plain","content_base64":"","content_id":null})"));
  ASSERT_EQ(m.attachments.size(), 3u);
  EXPECT_EQ(m.attachments[0].filename, "a.bin");
  EXPECT_EQ(m.attachments[0].content_type, "application/octet-stream");
  EXPECT_EQ(m.attachments[0].content, std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(m.attachments[0].content_id, "");
  EXPECT_EQ(m.attachments[1].content_id, "logo@x");
  EXPECT_EQ(m.attachments[1].content, "\x89PNG");
  EXPECT_EQ(m.attachments[2].content, "");
}

TEST(ParseSubmitFields, AttachmentErrorsNameTheField) {
  const std::string good = R"({"filename":"a.pdf","content_type":"application/pdf","content_base64":"AAAA"})";
  expect_error(msg(R"("attachments":{})"), "invalid_type", "attachments");
  expect_error(attachments(good + ",[]"), "invalid_type", "attachments[1]");
  expect_error(attachments(good + R"(,{"content_type":"application/pdf","content_base64":"AAAA"})"), "missing_field",
               "attachments[1].filename");
  expect_error(attachments(R"({"filename":"a.pdf","content_base64":"AAAA"})"), "missing_field", "attachments[0].content_type");
  expect_error(attachments(R"({"filename":"a.pdf","content_type":"application/pdf"})"), "missing_field",
               "attachments[0].content_base64");
  expect_error(attachments(R"({"filename":"a.pdf","content_type":"application/pdf","content_base64":"AAAA","size":4})"),
               "unknown_field", "attachments[0].size");
  expect_error(attachments(R"({"filename":7,"content_type":"application/pdf","content_base64":"AAAA"})"), "invalid_type",
               "attachments[0].filename");
  expect_error(attachments(R"({"filename":"../etc/passwd","content_type":"application/pdf","content_base64":"AAAA"})"),
               "invalid_attachment", "attachments[0].filename");
  expect_error(attachments(R"({"filename":"a.eml","content_type":"message/rfc822","content_base64":"AAAA"})"),
               "invalid_attachment", "attachments[0].content_type");
  expect_error(attachments(good + "," + good + R"(,{"filename":"a.pdf","content_type":"application/pdf","content_base64":"AAA"})"),
               "invalid_base64", "attachments[2].content_base64");
  expect_error(attachments(R"({"filename":"a","content_type":"a/b","content_base64":"a-_b"})"), "invalid_base64",
               "attachments[0].content_base64");
  expect_error(attachments(R"({"filename":"a","content_type":"a/b","content_base64":"AAAA","content_id":"<x@y>"})"),
               "invalid_attachment", "attachments[0].content_id");
  expect_error(attachments(R"({"filename":"a","content_type":"a/b","content_base64":"AAAA","content_id":"x"},
                              {"filename":"b","content_type":"a/b","content_base64":"AAAA","content_id":"x"})"),
               "invalid_attachment", "attachments[1].content_id");
}

TEST(ParseSubmitFields, InlineAttachmentNeedsHtml) {
  expect_error(msg(R"("attachments":[{"filename":"a","content_type":"image/png","content_base64":"AAAA","content_id":"a"}])"),
               "conflicting_fields", "attachments[0].content_id");
  // A regular attachment with text only is fine.
  EXPECT_EQ(ok(msg(R"("attachments":[{"filename":"a","content_type":"image/png","content_base64":"AAAA"}])")).attachments.size(), 1u);
}

TEST(ParseSubmitFields, AttachmentsConflictWithRaw) {
  expect_error(R"({"from":"a@example.com","to":"b@example.net","raw":"A: b\n\nc","attachments":[]})", "conflicting_fields",
               "attachments");
}

TEST(ParseSubmitFields, Base64ErrorSaysWhereAndWhy) {
  const auto r = parse(attachments(R"({"filename":"a","content_type":"a/b","content_base64":"AAAA!AAA"})"));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("offset 4"), std::string::npos) << r.error().message;
}

// --- tags

TEST(ParseSubmitFields, TagsKeepOrder) {
  const SubmitMessage m = ok(msg(R"("tags":{"campaign":"q3","user":"\u00e9l\u00e8ve","empty":""})"));
  EXPECT_EQ(m.tags, (std::vector<std::pair<std::string, std::string>>{
                        {"campaign", "q3"}, {"user", "\xc3\xa9l\xc3\xa8ve"}, {"empty", ""}}));
}

TEST(ParseSubmitFields, TagLimits) {
  std::string twenty, twenty_one;
  for (int i = 0; i < 21; ++i) {
    const std::string entry = "\"k" + std::to_string(i) + "\":\"v\"";
    if (i < 20) twenty += (i ? "," : "") + entry;
    twenty_one += (i ? "," : "") + entry;
  }
  EXPECT_EQ(ok(msg(R"("tags":{)" + twenty + "}")).tags.size(), 20u);
  expect_error(msg(R"("tags":{)" + twenty_one + "}"), "too_many_tags", "tags");
  // Lengths count characters, not octets: 64 × "é" (128 octets) is a valid key.
  std::string key64, value256;
  for (int i = 0; i < 64; ++i) key64 += "\\u00e9";
  for (int i = 0; i < 256; ++i) value256 += "\\u00e9";
  EXPECT_EQ(ok(msg(R"("tags":{")" + key64 + R"(":")" + value256 + R"("})")).tags.size(), 1u);
  expect_error(msg(R"("tags":{")" + std::string(65, 'k') + R"(":"v"})"), "invalid_tag", "tags." + std::string(65, 'k'));
  expect_error(msg(R"("tags":{"k":")" + std::string(257, 'v') + R"("})"), "invalid_tag", "tags.k");
  expect_error(msg(R"("tags":{"":"v"})"), "invalid_tag", R"(tags[""])");
  expect_error(msg(R"("tags":{"k":"a\nb"})"), "invalid_tag", "tags.k");
  expect_error(msg(R"("tags":{"k":1})"), "invalid_type", "tags.k");
  expect_error(msg(R"("tags":{"k":"a","k":"b"})"), "duplicate_field", "tags.k");
  expect_error(msg(R"("tags":["k"])"), "invalid_type", "tags");
}

// --- metadata

TEST(ParseSubmitFields, MetadataIsKeptAsMinifiedRawJson) {
  const SubmitMessage m = ok(msg(R"("metadata": { "order" : 18446744073709551615, "price": 1.50,
    "nested": {"a": [1, 2.0e3, "x y", null, true, -0.0]}, "s": "caf\u00e9 \"q\"" })"));
  // Numbers keep their exact text (a DOM round trip would print 1.5, 2000.0 and 0.0); string
  // escapes are kept as sent.
  EXPECT_EQ(m.metadata,
            R"({"order":18446744073709551615,"price":1.50,"nested":{"a":[1,2.0e3,"x y",null,true,-0.0]},"s":"caf\u00e9 \"q\""})");
}

TEST(ParseSubmitFields, MetadataMustBeAnObjectOfAtMost4KiB) {
  expect_error(msg(R"("metadata":[1])"), "invalid_type", "metadata");
  expect_error(msg(R"("metadata":"x")"), "invalid_type", "metadata");
  EXPECT_FALSE(ok(msg(R"("metadata":null)")).metadata.has_value());
  // {"k":"..."} with 4088 characters of value is exactly 4096 octets minified; whitespace
  // outside strings does not count.
  const std::string at_limit = R"("metadata": {  "k" :  ")" + std::string(4088, 'v') + "\" }";
  EXPECT_EQ(ok(msg(at_limit)).metadata->size(), 4096u);
  expect_error(msg(R"("metadata":{"k":")" + std::string(4089, 'v') + "\"}"), "metadata_too_large", "metadata");
}

TEST(ParseSubmitFields, MetadataKeyMayBeEscaped) {
  // The DOM sees "metadata"; the raw-text pass must compare unescaped keys to find it too.
  EXPECT_EQ(ok(msg(R"("\u006detadata":{"a":1.0})")).metadata, R"({"a":1.0})");
}

// --- send_at

TEST(ParseSubmitFields, SendAtBecomesEpochMilliseconds) {
  EXPECT_EQ(ok(msg(R"("send_at":"2026-11-27T08:00:00Z")")).send_at_ms, kNowMs + 86400000);
  EXPECT_EQ(ok(msg(R"("send_at":"2026-11-26T09:00:00.250+01:00")")).send_at_ms, kNowMs + 250);
  EXPECT_FALSE(ok(msg("")).send_at_ms.has_value());
  // The past means "now"; it is kept as given for the scheduler to judge.
  EXPECT_EQ(ok(msg(R"("send_at":"2026-11-25T08:00:00Z")")).send_at_ms, kNowMs - 86400000);
}

TEST(ParseSubmitFields, SendAtAtMostThirtyDaysAhead) {
  EXPECT_EQ(ok(msg(R"("send_at":"2026-12-26T08:00:00Z")")).send_at_ms, kNowMs + kMaxSendAheadMs);
  expect_error(msg(R"("send_at":"2026-12-26T08:00:00.001Z")"), "send_at_too_far", "send_at");
  expect_error(msg(R"("send_at":"2027-01-01T00:00:00Z")"), "send_at_too_far", "send_at");
}

TEST(ParseSubmitFields, SendAtMustBeRfc3339) {
  expect_error(msg(R"("send_at":1795680000)"), "invalid_type", "send_at");
  expect_error(msg(R"("send_at":"tomorrow")"), "invalid_send_at", "send_at");
  expect_error(msg(R"("send_at":"2026-11-26T08:00:00")"), "invalid_send_at", "send_at");
  expect_error(msg(R"("send_at":"2026-02-30T08:00:00Z")"), "invalid_send_at", "send_at");
}

TEST(ParseSubmitFields, SendAtUsesTheSystemClockByDefault) {
  // Without an explicit time, a date far in the future is still refused and one in the past accepted.
  EXPECT_EQ(parse_submit(msg(R"("send_at":"2999-01-01T00:00:00Z")")).error().code, "send_at_too_far");
  EXPECT_TRUE(parse_submit(msg(R"("send_at":"2001-01-01T00:00:00Z")")).has_value());
}

// --- limits

TEST(ParseSubmitFields, RecipientLimitIsConfigurable) {
  SubmitLimits limits;
  limits.max_recipients = 2;
  EXPECT_TRUE(parse(R"({"from":"a@example.com","to":["b@example.net","c@example.net"],"text":"x"})", limits).has_value());
  const auto r = parse(R"({"from":"a@example.com","to":["b@example.net"],"cc":["c@example.net","d@example.net"],"text":"x"})", limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "too_many_recipients");
  EXPECT_EQ(r.error().field, "cc");
  EXPECT_NE(r.error().message.find("at most 2"), std::string::npos);
}

TEST(ParseSubmitFields, MessageSizeLimitCountsDecodedContent) {
  SubmitLimits limits;
  limits.max_message_bytes = 10;
  // text 4 + html 3 + 3 decoded attachment octets ("AAEC") = 10: at the limit.
  const std::string at = R"({"from":"a@example.com","to":"b@example.net","text":"abcd","html":"<b>",
    "attachments":[{"filename":"a","content_type":"a/b","content_base64":"AAEC"}]})";
  EXPECT_TRUE(parse(at, limits).has_value());
  limits.max_message_bytes = 9;
  const auto r = parse(at, limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "message_too_large");
  EXPECT_EQ(r.error().http_status, 413);
  EXPECT_EQ(r.error().field, "");
  EXPECT_NE(r.error().message.find("the limit is 9 bytes"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("10 bytes"), std::string::npos) << r.error().message;
  // raw counts too
  const auto raw = parse(R"({"from":"a@example.com","to":"b@example.net","raw":"From: a@example.com\n\n0123456789"})", limits);
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().code, "message_too_large");
}

TEST(ParseSubmitFields, DefaultMessageSizeLimitIs25MiB) {
  EXPECT_EQ(SubmitLimits{}.max_message_bytes, 25u << 20);
  const std::string big(25u << 20, 'x');
  EXPECT_TRUE(parse(R"({"from":"a@example.com","to":"b@example.net","text":")" + big + "\"}").has_value());
  const auto r = parse(R"({"from":"a@example.com","to":"b@example.net","text":")" + big + "y\"}");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "message_too_large");
}

TEST(ParseSubmitFields, BatchLimitsAreConfigurable) {
  SubmitLimits limits;
  limits.max_batch = 2;
  const std::string item = "{" + std::string(kBase) + "}";
  EXPECT_TRUE(parse_batch(R"({"messages":[)" + item + "," + item + "]}", limits, kNowMs).has_value());
  const auto r = parse_batch(R"({"messages":[)" + item + "," + item + "," + item + "]}", limits, kNowMs);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error.code, "batch_too_large");
  EXPECT_NE(r.error().error.message.find("at most 2"), std::string::npos);
}

TEST(ParseSubmitFields, BatchItemsReportNewFieldErrorsWithFullPaths) {
  SubmitLimits limits;
  limits.max_message_bytes = 5;
  const auto r = parse_batch(R"({"messages":[
      {"from":"a@example.com","to":"b@example.net","text":"x","metadata":{"m":1.10},"tags":{"t":"v"}},
      {"from":"a@example.com","to":"b@example.net","text":"x","send_at":"soon"},
      {"from":"a@example.com","to":"b@example.net","text":"123456"},
      {"from":"a@example.com","to":"b@example.net","html":"x","attachments":[{"filename":"a","content_type":"a/b","content_base64":"*"}]},
      {"from":"a@example.com","to":"b@example.net","text":"x","metadata":{"n":2e1}}]})",
                             limits, kNowMs);
  ASSERT_FALSE(r.has_value());
  const auto& items = r.error().items;
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].index, 1u);
  EXPECT_EQ(items[0].error.field, "messages[1].send_at");
  EXPECT_EQ(items[1].error.code, "message_too_large");
  EXPECT_EQ(items[1].error.http_status, 413);
  EXPECT_EQ(items[1].error.field, "messages[2]");
  EXPECT_EQ(items[2].error.field, "messages[3].attachments[0].content_base64");
}

TEST(ParseSubmitFields, BatchKeepsEachMessagesOwnMetadata) {
  const auto r = parse_batch(R"({"messages":[
      {"from":"a@example.com","to":"b@example.net","text":"x","metadata":{"i":0}},
      {"from":"a@example.com","to":"b@example.net","text":"x"},
      {"from":"a@example.com","to":"b@example.net","text":"x","metadata":{"i":2.50}}]})",
                             {}, kNowMs);
  ASSERT_TRUE(r.has_value()) << to_json(r.error());
  EXPECT_EQ((*r)[0].metadata, R"({"i":0})");
  EXPECT_FALSE((*r)[1].metadata.has_value());
  EXPECT_EQ((*r)[2].metadata, R"({"i":2.50})");
}

TEST(ParseSubmitFields, UnknownFieldMessageListsTheNewFields) {
  const auto r = parse(msg(R"("sendAt":"x")"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "unknown_field");
  EXPECT_NE(r.error().message.find("send_at"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("attachments"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace ringpost::api
