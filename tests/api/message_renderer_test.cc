#include "engine/api/message_renderer.h"

#include <gtest/gtest.h>

#include <array>

#include "engine/api/line_endings.h"
#include "engine/api/mime_boundary.h"
#include "tests/api/mail_test_util.h"

namespace ringpost::api {
namespace {

using testing::decode_encoded_words;
using testing::has_bare_cr_or_lf;
using testing::qp_decode;
using testing::raw_field_value;
using testing::split_crlf_lines;

constexpr std::string_view kId = "01HF3Z2Q8W4Y5V6T7S8R9Q0P1N";
constexpr std::string_view kHost = "mta.example.test";
constexpr int64_t kNow = 1700000000;

SubmitMessage basic() {
  SubmitMessage m;
  m.from = "sender@example.com";
  m.to = {"a@example.net", "b@example.net"};
  m.cc = {"c@example.org"};
  m.bcc = {"secret@example.org"};
  m.subject = "Hello";
  m.text = "line one\nline two\n";
  return m;
}

struct Split {
  std::string headers;  // including the CRLF of the last field
  std::string body;
};

Split split_message(const std::string& msg) {
  const std::size_t blank = msg.find("\r\n\r\n");
  EXPECT_NE(blank, std::string::npos) << "no header/body separator";
  if (blank == std::string::npos) return {msg, ""};
  return {msg.substr(0, blank + 2), msg.substr(blank + 4)};
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t p = haystack.find(needle); p != std::string_view::npos; p = haystack.find(needle, p + 1)) ++n;
  return n;
}

void expect_wire_safe(const std::string& msg) {
  EXPECT_FALSE(has_bare_cr_or_lf(msg));
  for (const std::string& line : split_crlf_lines(msg)) EXPECT_LE(line.size(), 998u);
}

TEST(RenderMessage, TextOnlyHeadersAndBody) {
  const std::string msg = render_message(basic(), kId, kHost, kNow);
  expect_wire_safe(msg);
  const Split s = split_message(msg);
  EXPECT_TRUE(s.headers.starts_with("From: sender@example.com\r\n")) << s.headers;
  EXPECT_EQ(raw_field_value(s.headers, "To"), "a@example.net, b@example.net");
  EXPECT_EQ(raw_field_value(s.headers, "Cc"), "c@example.org");
  EXPECT_EQ(raw_field_value(s.headers, "Subject"), "Hello");
  EXPECT_EQ(raw_field_value(s.headers, "Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(raw_field_value(s.headers, "Message-ID"), "<01HF3Z2Q8W4Y5V6T7S8R9Q0P1N@mta.example.test>");
  EXPECT_EQ(raw_field_value(s.headers, "MIME-Version"), "1.0");
  EXPECT_EQ(raw_field_value(s.headers, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(raw_field_value(s.headers, "Content-Transfer-Encoding"), "7bit");
  EXPECT_EQ(s.body, "line one\r\nline two\r\n");
}

TEST(RenderMessage, BccNeverAppears) {
  const std::string msg = render_message(basic(), kId, kHost, kNow);
  EXPECT_EQ(msg.find("Bcc"), std::string::npos);
  EXPECT_EQ(msg.find("secret@example.org"), std::string::npos);
}

TEST(RenderMessage, EmptyListsAndSubjectAreOmitted) {
  SubmitMessage m = basic();
  m.to.clear();
  m.cc.clear();
  m.subject.clear();
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  EXPECT_FALSE(raw_field_value(s.headers, "To").has_value());
  EXPECT_FALSE(raw_field_value(s.headers, "Cc").has_value());
  EXPECT_FALSE(raw_field_value(s.headers, "Subject").has_value());
}

TEST(RenderMessage, UserHeadersComeBeforeContentFieldsInOrder) {
  SubmitMessage m = basic();
  m.headers = {{"Reply-To", "help@example.com"}, {"List-Unsubscribe", "<https://example.com/u>"}};
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  const std::size_t reply_to = s.headers.find("\r\nReply-To: help@example.com\r\n");
  const std::size_t unsub = s.headers.find("\r\nList-Unsubscribe: <https://example.com/u>\r\n");
  const std::size_t content_type = s.headers.find("\r\nContent-Type: ");
  ASSERT_NE(reply_to, std::string::npos);
  ASSERT_NE(unsub, std::string::npos);
  EXPECT_LT(reply_to, unsub);
  EXPECT_LT(unsub, content_type);
}

TEST(RenderMessage, HtmlOnly) {
  SubmitMessage m = basic();
  m.text.clear();
  m.html = "<p>hi</p>";
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  EXPECT_EQ(raw_field_value(s.headers, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(s.body, "<p>hi</p>");
}

TEST(RenderMessage, NonAsciiTextIsQuotedPrintableAndDecodesBack) {
  SubmitMessage m = basic();
  // Mostly ASCII, so quoted-printable is smaller than base64 (see MostlyNonAsciiTextIsBase64).
  m.text = "Dear customer, this is your weekly summary.\nGr\xc3\xbc\xc3\x9f" "e, caf\xc3\xa9 = 5\xe2\x82\xac \nbye";
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  EXPECT_EQ(raw_field_value(s.headers, "Content-Transfer-Encoding"), "quoted-printable");
  for (const char c : s.body) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
  EXPECT_EQ(qp_decode(s.body), to_crlf(m.text));
}

TEST(RenderMessage, VeryLongAsciiLineIsQuotedPrintableAndDecodesBack) {
  SubmitMessage m = basic();
  m.text = std::string(2000, 'x') + "\nshort";
  const std::string msg = render_message(m, kId, kHost, kNow);
  const Split s = split_message(msg);
  EXPECT_EQ(raw_field_value(s.headers, "Content-Transfer-Encoding"), "quoted-printable");
  for (const std::string& line : split_crlf_lines(s.body)) EXPECT_LE(line.size(), 76u);
  EXPECT_EQ(qp_decode(s.body), std::string(2000, 'x') + "\r\nshort");
}

TEST(RenderMessage, NonAsciiSubjectIsAnEncodedWord) {
  SubmitMessage m = basic();
  m.subject = "R\xc3\xa9sum\xc3\xa9 \xe2\x9c\x93 " + std::string(60, 'z');
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const auto value = raw_field_value(split_message(msg).headers, "Subject");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(value->starts_with("=?UTF-8?B?")) << *value;
  EXPECT_EQ(decode_encoded_words(*value), m.subject);
}

TEST(RenderMessage, ManyRecipientsFoldWithinLimits) {
  SubmitMessage m = basic();
  m.to.clear();
  for (int i = 0; i < 1000; ++i) m.to.push_back("recipient-number-" + std::to_string(i) + "@example.net");
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  for (const std::string& line : split_crlf_lines(split_message(msg).headers)) EXPECT_LE(line.size(), 78u) << line;
}

// Splits a multipart body at its delimiters (RFC 2046 §5.1.1) and checks the framing.
std::vector<std::string> multipart_parts(const std::string& body, const std::string& boundary) {
  const std::string delimiter = "--" + boundary + "\r\n";
  const std::string close = "\r\n--" + boundary + "--\r\n";
  EXPECT_TRUE(body.starts_with(delimiter));
  EXPECT_TRUE(body.ends_with(close));
  std::vector<std::string> parts;
  if (!body.starts_with(delimiter) || !body.ends_with(close)) return parts;
  const std::string inner = body.substr(delimiter.size(), body.size() - delimiter.size() - close.size());
  const std::string separator = "\r\n" + delimiter;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = inner.find(separator, pos);
    parts.push_back(inner.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + separator.size();
  }
  return parts;
}

TEST(RenderMessage, TextAndHtmlMakeWellFormedMultipartAlternative) {
  SubmitMessage m = basic();
  m.text = "Plain caf\xc3\xa9\n";
  m.html = "<p>HTML</p>";
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const Split s = split_message(msg);
  const auto content_type = raw_field_value(s.headers, "Content-Type");
  ASSERT_TRUE(content_type.has_value());
  const std::string prefix = "multipart/alternative;\r\n boundary=\"";
  ASSERT_TRUE(content_type->starts_with(prefix)) << *content_type;
  ASSERT_TRUE(content_type->ends_with("\""));
  const std::string boundary = content_type->substr(prefix.size(), content_type->size() - prefix.size() - 1);
  ASSERT_FALSE(boundary.empty());
  EXPECT_LE(boundary.size(), 70u);

  const std::vector<std::string> parts = multipart_parts(s.body, boundary);
  ASSERT_EQ(parts.size(), 2u);
  const Split text = split_message(parts[0]);
  const Split html = split_message(parts[1]);
  EXPECT_EQ(raw_field_value(text.headers, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(raw_field_value(text.headers, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(qp_decode(text.body), "Plain caf\xc3\xa9\r\n");
  EXPECT_EQ(raw_field_value(html.headers, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(raw_field_value(html.headers, "Content-Transfer-Encoding"), "7bit");
  EXPECT_EQ(html.body, "<p>HTML</p>");
  for (const std::string& p : parts) EXPECT_EQ(p.find("--" + boundary), std::string::npos);
}

TEST(RenderMessage, BoundaryAvoidsContentThatContainsIt) {
  SubmitMessage m = basic();
  // 7bit parts are copied verbatim, so they can contain anything, including our first choices.
  const std::string first = choose_boundary(kId, std::array<std::string_view, 0>{});
  m.text = "--" + first + "\n--" + first + "_1\nplain";
  m.html = "<pre>--" + first + "_2</pre>";
  const std::string msg = render_message(m, kId, kHost, kNow);
  const auto content_type = raw_field_value(split_message(msg).headers, "Content-Type");
  ASSERT_TRUE(content_type.has_value());
  const std::string prefix = "multipart/alternative;\r\n boundary=\"";
  const std::string boundary = content_type->substr(prefix.size(), content_type->size() - prefix.size() - 1);
  EXPECT_EQ(boundary, first + "_3");
  const std::vector<std::string> parts = multipart_parts(split_message(msg).body, boundary);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(split_message(parts[0]).body, to_crlf(m.text));
  EXPECT_EQ(split_message(parts[1]).body, m.html);
}

// The boundary of a multipart Content-Type value as the renderer writes it.
std::string boundary_of(const std::string& headers) {
  const auto ct = raw_field_value(headers, "Content-Type");
  EXPECT_TRUE(ct.has_value());
  if (!ct) return "";
  const std::size_t at = ct->find("boundary=\"");
  EXPECT_NE(at, std::string::npos) << *ct;
  if (at == std::string::npos) return "";
  const std::size_t start = at + 10;
  return ct->substr(start, ct->find('"', start) - start);
}

std::string joined_base64(const std::string& body) {
  std::string out;
  for (const std::string& line : split_crlf_lines(body)) {
    EXPECT_LE(line.size(), 76u);
    out += line;
  }
  return out;
}

TEST(RenderMessage, ReplyToAndDisplayNames) {
  SubmitMessage m = basic();
  m.from_name = "News Desk";
  m.to_names = {"Ann", ""};
  m.cc_names = {"Lee, Carl"};
  m.reply_to = {{"help@example.com", "Help"}, {"noreply@example.com", ""}};
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  EXPECT_TRUE(s.headers.starts_with("From: News Desk <sender@example.com>\r\nReply-To: Help <help@example.com>, noreply@example.com\r\n"))
      << s.headers;
  EXPECT_EQ(raw_field_value(s.headers, "To"), "Ann <a@example.net>, b@example.net");
  EXPECT_EQ(raw_field_value(s.headers, "Cc"), "\"Lee, Carl\" <c@example.org>");
}

TEST(RenderMessage, AttachmentMakesMultipartMixedWithBase64Part) {
  SubmitMessage m = basic();
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 7));
  m.attachments = {{"report.pdf", "application/pdf", "", bytes}};
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const Split s = split_message(msg);
  const std::string boundary = boundary_of(s.headers);
  EXPECT_TRUE(raw_field_value(s.headers, "Content-Type")->starts_with("multipart/mixed;\r\n boundary=\""));
  const std::vector<std::string> parts = multipart_parts(s.body, boundary);
  ASSERT_EQ(parts.size(), 2u);
  const Split text = split_message(parts[0]);
  EXPECT_EQ(raw_field_value(text.headers, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(text.body, "line one\r\nline two\r\n");
  const Split att = split_message(parts[1]);
  EXPECT_EQ(att.headers,
            "Content-Type: application/pdf;\r\n name=\"report.pdf\"\r\n"
            "Content-Disposition: attachment;\r\n filename=\"report.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n");
  EXPECT_EQ(testing::base64_decode(joined_base64(att.body)), bytes);
  EXPECT_EQ(split_crlf_lines(att.body).front().size(), 76u);
}

TEST(RenderMessage, InlineAttachmentsNestRelatedInsideAlternativeInsideMixed) {
  SubmitMessage m = basic();
  m.html = "<img src=\"cid:logo@x\">";
  m.attachments = {{"logo.png", "image/png", "logo@x", "PNGDATA"}, {"a.txt", "text/plain", "", "attached"}};
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const Split top = split_message(msg);
  const std::string mixed = boundary_of(top.headers);
  const std::vector<std::string> mixed_parts = multipart_parts(top.body, mixed);
  ASSERT_EQ(mixed_parts.size(), 2u);
  const Split alt = split_message(mixed_parts[0]);
  EXPECT_TRUE(raw_field_value(alt.headers, "Content-Type")->starts_with("multipart/alternative;"));
  const std::string alternative = boundary_of(alt.headers);
  const std::vector<std::string> alt_parts = multipart_parts(alt.body, alternative);
  ASSERT_EQ(alt_parts.size(), 2u);
  const Split rel = split_message(alt_parts[1]);
  EXPECT_EQ(raw_field_value(rel.headers, "Content-Type")->substr(0, 45), "multipart/related;\r\n type=\"text/html\";\r\n boun");
  const std::string related = boundary_of(rel.headers);
  const std::vector<std::string> rel_parts = multipart_parts(rel.body, related);
  ASSERT_EQ(rel_parts.size(), 2u);
  EXPECT_EQ(split_message(rel_parts[0]).body, "<img src=\"cid:logo@x\">");
  const Split logo = split_message(rel_parts[1]);
  EXPECT_EQ(raw_field_value(logo.headers, "Content-ID"), "<logo@x>");
  EXPECT_EQ(raw_field_value(logo.headers, "Content-Disposition"), "inline;\r\n filename=\"logo.png\"");
  EXPECT_EQ(testing::base64_decode(joined_base64(logo.body)), "PNGDATA");
  const Split txt = split_message(mixed_parts[1]);
  EXPECT_EQ(raw_field_value(txt.headers, "Content-Disposition"), "attachment;\r\n filename=\"a.txt\"");
  EXPECT_EQ(testing::base64_decode(joined_base64(txt.body)), "attached");  // base64 even for text: bytes exact
  // No boundary is a prefix of another, so even a prefix-matching reader cannot mistake them.
  for (const auto& [a, b] : {std::pair{mixed, alternative}, std::pair{mixed, related}, std::pair{alternative, related}}) {
    EXPECT_FALSE(a.starts_with(b) || b.starts_with(a)) << a << " / " << b;
  }
}

TEST(RenderMessage, AttachmentFilenameContainingTheBoundaryIsAvoided) {
  SubmitMessage m = basic();
  const std::string first = choose_boundary("m" + std::string(kId), std::array<std::string_view, 0>{});
  m.attachments = {{"--" + first + ".txt", "text/plain", "", "x"}};
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  const std::string boundary = boundary_of(s.headers);
  EXPECT_NE(boundary, first);
  EXPECT_EQ(multipart_parts(s.body, boundary).size(), 2u);
}

TEST(RenderMessage, LargeAttachmentIsWireSafe) {
  SubmitMessage m = basic();
  std::string bytes(1 << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  m.attachments = {{"big.bin", "application/octet-stream", "", bytes}};
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const std::vector<std::string> parts = multipart_parts(split_message(msg).body, boundary_of(split_message(msg).headers));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(testing::base64_decode(joined_base64(split_message(parts[1]).body)), bytes);
}

TEST(ChooseBoundary, StaysWithinBcharsAndSeventyCharacters) {
  const std::string b = choose_boundary(std::string(200, 'A') + "!@#", std::array<std::string_view, 0>{});
  EXPECT_LE(b.size(), 70u);
  EXPECT_TRUE(b.starts_with("=_rp_AAAA"));
  EXPECT_EQ(b.find_first_not_of("=_rpA"), std::string::npos) << b;
}

TEST(RenderRaw, NormalisesLineEndsAndAddsMissingIdAndDate) {
  SubmitMessage m;
  m.from = "a@example.com";
  m.to = {"b@example.net"};
  m.raw = "From: a@example.com\nTo: b@example.net\nSubject: raw\n\nbody line 1\r\nbody \xc3\xa9 line 2\n\n.dot\r";
  const std::string msg = render_message(m, kId, kHost, kNow);
  expect_wire_safe(msg);
  const Split s = split_message(msg);
  EXPECT_EQ(s.body, "body line 1\r\nbody \xc3\xa9 line 2\r\n\r\n.dot\r\n");
  EXPECT_EQ(s.headers,
            "From: a@example.com\r\nTo: b@example.net\r\nSubject: raw\r\n"
            "Message-ID: <01HF3Z2Q8W4Y5V6T7S8R9Q0P1N@mta.example.test>\r\n"
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
}

TEST(RenderRaw, KeepsExistingIdAndDate) {
  SubmitMessage m;
  m.from = "a@example.com";
  m.to = {"b@example.net"};
  m.raw = "From: a@example.com\r\nmessage-id: <mine@example.com>\r\nDATE : Mon, 13 Nov 2023 10:00:00 +0100\r\n\r\nbody";
  const std::string msg = render_message(m, kId, kHost, kNow);
  EXPECT_EQ(msg, *m.raw);
  EXPECT_EQ(count(msg, "<mine@example.com>"), 1u);
  EXPECT_EQ(msg.find(kId), std::string::npos);
}

TEST(RenderRaw, BodyIsByteExactEvenWhenItLooksLikeHeaders) {
  SubmitMessage m;
  m.from = "a@example.com";
  m.to = {"b@example.net"};
  const std::string body = "Message-ID: <in-body@example.com>\r\nBcc: not-a-header@example.com\r\n\r\n\tindent";
  m.raw = "Subject: x\r\n\r\n" + body;
  const Split s = split_message(render_message(m, kId, kHost, kNow));
  EXPECT_EQ(s.body, body);
  EXPECT_EQ(count(s.headers, "Message-ID: <01HF3Z2Q8W4Y5V6T7S8R9Q0P1N@mta.example.test>\r\n"), 1u);
}

TEST(RenderRaw, BccFieldIsRemovedWithItsContinuationLines) {
  SubmitMessage m;
  m.from = "a@example.com";
  m.bcc = {"hidden@example.org"};
  m.raw = "From: a@example.com\nBcc: hidden@example.org,\n  other@example.org\nSubject: s\n\nbody";
  const std::string msg = render_message(m, kId, kHost, kNow);
  EXPECT_EQ(msg.find("hidden@example.org"), std::string::npos);
  EXPECT_EQ(msg.find("other@example.org"), std::string::npos);
  EXPECT_NE(msg.find("\r\nSubject: s\r\n"), std::string::npos);
  EXPECT_TRUE(msg.ends_with("\r\n\r\nbody"));
}

}  // namespace
}  // namespace ringpost::api
