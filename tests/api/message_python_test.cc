// Rendered messages read back by Python's email package (tests/api/mime_check.py), an
// independent MIME implementation: decoded subject and display names, the parts tree,
// attachment file names and bytes, Content-IDs, Reply-To and IDNA domains must all come back
// exactly as the request gave them, with no parser defects.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/api/line_endings.h"
#include "engine/api/message_renderer.h"
#include "engine/api/submit_request.h"
#include "tests/api/python_email.h"

namespace ringpost::api {
namespace {

using testing::PyAddress;
using testing::PyLeaf;
using testing::PyView;
using testing::python_view;

constexpr std::string_view kId = "01HF3Z2Q8W4Y5V6T7S8R9Q0P1N";
constexpr std::string_view kHost = "mta.example.test";
constexpr int64_t kNow = 1700000000;

// Parses `json` (which must be valid), renders it and reads it back through Python.
struct Rendered {
  SubmitMessage msg;
  std::string bytes;
  PyView py;
};

Rendered render_json(const std::string& json) {
  Rendered r;
  auto parsed = parse_submit(json, {}, kNow * 1000);
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().field + ": " + parsed.error().message);
  if (!parsed) return r;
  r.msg = std::move(*parsed);
  r.bytes = render_message(r.msg, kId, kHost, kNow);
  r.py = python_view(r.bytes);
  EXPECT_EQ(r.py.error, "");
  EXPECT_EQ(r.py.defects, std::vector<std::string>{}) << r.bytes;
  return r;
}

std::string b64(std::string_view bytes) {
  static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kA[v >> s & 63]);
  }
  if (bytes.size() - i == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += {kA[v >> 18 & 63], kA[v >> 12 & 63], '=', '='};
  } else if (bytes.size() - i == 2) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += {kA[v >> 18 & 63], kA[v >> 12 & 63], kA[v >> 6 & 63], '='};
  }
  return out;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// The leaf whose Content-Type is `type` (the first such), or a failing empty one.
const PyLeaf& leaf(const PyView& v, std::string_view type, std::size_t nth = 0) {
  static const PyLeaf kNone;
  for (const PyLeaf& l : v.leaves) {
    if (l.content_type == type && nth-- == 0) return l;
  }
  ADD_FAILURE() << "no leaf " << type;
  return kNone;
}

std::string attachment_json(std::string_view filename, std::string_view type, std::string_view bytes,
                            std::string_view content_id = {}) {
  std::string out = R"({"filename":")" + std::string(filename) + R"(","content_type":")" + std::string(type) +
                    R"(","content_base64":")" + b64(bytes) + "\"";
  if (!content_id.empty()) out += R"(,"content_id":")" + std::string(content_id) + "\"";
  return out + "}";
}

TEST(PythonEmail, PlainTextMessage) {
  const Rendered r = render_json(
      R"({"from":"a@example.com","to":["b@example.net"],"bcc":"hidden@example.org","subject":"Hello","text":"one\ntwo\n"})");
  EXPECT_EQ(r.py.subject, "Hello");
  EXPECT_EQ(r.py.tree, "text/plain");
  EXPECT_EQ(r.py.from, (std::vector<PyAddress>{{"", "a@example.com"}}));
  EXPECT_EQ(r.py.to, (std::vector<PyAddress>{{"", "b@example.net"}}));
  EXPECT_FALSE(r.py.bcc_present);
  EXPECT_EQ(r.py.message_id, "<01HF3Z2Q8W4Y5V6T7S8R9Q0P1N@mta.example.test>");
  EXPECT_EQ(r.py.date, "Tue, 14 Nov 2023 22:13:20 +0000");
  ASSERT_EQ(r.py.leaves.size(), 1u);
  EXPECT_EQ(r.py.leaves[0].bytes, "one\r\ntwo\r\n");
  EXPECT_EQ(r.py.leaves[0].charset, "utf-8");
}

TEST(PythonEmail, NonAsciiSubjectAndDisplayNamesDecode) {
  // Names that need each form: atoms, a quoted-string (comma, quote, backslash), encoded-words
  // for a non-ASCII run between ASCII words, a CJK name, and text that looks like an
  // encoded-word but is not one.
  const Rendered r = render_json(R"({
    "from": {"address":"news@example.com","name":"Zo\u00eb \u00c4ngstr\u00f6m"},
    "reply_to": [{"address":"help@example.com","name":"Help Desk"},"noreply@example.com"],
    "to": [{"address":"a@example.net","name":"Lee, Bob \"the builder\" \\o/"},
           {"address":"b@example.net","name":"Dr. J\u00fcrgen M\u00fcller-L\u00fcdenscheidt and Associates"},
           "c@example.net",
           {"address":"d@example.net","name":"\u5f20\u4f1f"}],
    "cc": {"address":"e@example.org","name":"=?UTF-8?B?SGk=?= literally"},
    "subject": "R\u00e9sum\u00e9 \u2713 f\u00fcr Sie: a rather long subject line that needs several encoded words \u2014 \u65e5\u672c\u8a9e",
    "text": "x"})");
  EXPECT_EQ(r.py.subject, r.msg.subject);
  EXPECT_EQ(r.py.from, (std::vector<PyAddress>{{"Zo\xc3\xab \xc3\x84ngstr\xc3\xb6m", "news@example.com"}}));
  EXPECT_EQ(r.py.reply_to, (std::vector<PyAddress>{{"Help Desk", "help@example.com"}, {"", "noreply@example.com"}}));
  EXPECT_EQ(r.py.to, (std::vector<PyAddress>{{"Lee, Bob \"the builder\" \\o/", "a@example.net"},
                                             {"Dr. J\xc3\xbcrgen M\xc3\xbcller-L\xc3\xbc" "denscheidt and Associates", "b@example.net"},
                                             {"", "c@example.net"},
                                             {"\xe5\xbc\xa0\xe4\xbc\x9f", "d@example.net"}}));
  EXPECT_EQ(r.py.cc, (std::vector<PyAddress>{{"=?UTF-8?B?SGk=?= literally", "e@example.org"}}));
}

TEST(PythonEmail, TextAndHtmlAreAlternatives) {
  const Rendered r = render_json(
      R"({"from":"a@example.com","to":"b@example.net","text":"caf\u00e9\n","html":"<p>caf\u00e9</p>"})");
  EXPECT_EQ(r.py.tree, "multipart/alternative(text/plain,text/html)");
  EXPECT_EQ(leaf(r.py, "text/plain").bytes, "caf\xc3\xa9\r\n");
  EXPECT_EQ(leaf(r.py, "text/html").bytes, "<p>caf\xc3\xa9</p>");
}

TEST(PythonEmail, MostlyNonAsciiTextIsBase64AndDecodes) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!\n";
  SubmitMessage m;
  m.from = "a@example.com";
  m.to = {"b@example.net"};
  m.text = text;
  const PyView py = python_view(render_message(m, kId, kHost, kNow));
  ASSERT_EQ(py.error, "");
  EXPECT_EQ(py.defects, std::vector<std::string>{});
  ASSERT_EQ(py.leaves.size(), 1u);
  EXPECT_EQ(py.leaves[0].cte, "base64");
  EXPECT_EQ(py.leaves[0].bytes, to_crlf(text));
}

TEST(PythonEmail, AttachmentsMakeMultipartMixedWithExactBytes) {
  std::string every_octet;
  for (int i = 0; i < 256; ++i) every_octet.push_back(static_cast<char>(i));
  const std::string pdf = random_bytes(100000, 7);
  const std::string csv = "a,b\r\n1,2\n3,4\r";  // line ends of all kinds must survive untouched
  const std::string long_ascii = std::string(150, 'n') + " report.txt";
  const Rendered r = render_json(std::string(R"({"from":"a@example.com","to":"b@example.net","text":"see attached",
    "html":"<p>see attached</p>","attachments":[)") +
                                 attachment_json("\\u00dcbersicht M\\u00e4rz 2026.pdf", "application/pdf", pdf) + "," +
                                 attachment_json("bytes.bin", "application/octet-stream", every_octet) + "," +
                                 attachment_json("data \\\"quoted\\\".csv", "text/csv; charset=utf-8", csv) + "," +
                                 attachment_json(long_ascii, "text/plain", "") + "]}");
  EXPECT_EQ(r.py.tree,
            "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf,application/octet-stream,"
            "text/csv,text/plain)");
  const PyLeaf& p = leaf(r.py, "application/pdf");
  EXPECT_EQ(p.filename, "\xc3\x9c" "bersicht M\xc3\xa4rz 2026.pdf");
  EXPECT_EQ(p.name_param, p.filename);
  EXPECT_EQ(p.disposition, "attachment");
  EXPECT_EQ(p.cte, "base64");
  EXPECT_EQ(p.bytes, pdf);
  EXPECT_EQ(leaf(r.py, "application/octet-stream").bytes, every_octet);
  EXPECT_EQ(leaf(r.py, "application/octet-stream").filename, "bytes.bin");
  const PyLeaf& c = leaf(r.py, "text/csv");
  EXPECT_EQ(c.filename, "data \"quoted\".csv");
  EXPECT_EQ(c.charset, "utf-8");
  EXPECT_EQ(c.bytes, csv);
  const PyLeaf& empty = leaf(r.py, "text/plain", 1);
  EXPECT_EQ(empty.filename, long_ascii);
  EXPECT_EQ(empty.bytes, "");
  EXPECT_EQ(leaf(r.py, "text/plain").bytes, "see attached");
}

TEST(PythonEmail, LongNonAsciiFilenameInRfc2231Sections) {
  std::string name;
  for (int i = 0; i < 60; ++i) name += "\\u00e9\\u65e5";  // 60 × (2 + 3) octets = 300 > 255? keep under:
  name = name.substr(0, 50 * 12) + ".txt";             // 50 pairs: 250 octets + ".txt" = 254
  const Rendered r = render_json(std::string(R"({"from":"a@example.com","to":"b@example.net","text":"x","attachments":[)") +
                                 attachment_json(name, "text/plain", "body") + "]}");
  ASSERT_EQ(r.msg.attachments.size(), 1u);
  EXPECT_NE(r.bytes.find("filename*1*="), std::string::npos) << "expected several RFC 2231 sections";
  const PyLeaf& l = leaf(r.py, "text/plain", 1);
  EXPECT_EQ(l.filename, r.msg.attachments[0].filename);
  EXPECT_EQ(l.name_param, r.msg.attachments[0].filename);
  for (std::size_t pos = 0, next; pos < r.bytes.size(); pos = next + 2) {
    next = r.bytes.find("\r\n", pos);
    if (next == std::string::npos) break;
    EXPECT_LE(next - pos, 78u) << r.bytes.substr(pos, next - pos);
  }
}

TEST(PythonEmail, InlineImagesMakeMultipartRelated) {
  const std::string png = random_bytes(3000, 3), gif = random_bytes(200, 4), pdf = random_bytes(500, 5);
  const Rendered r = render_json(std::string(R"({"from":"a@example.com","to":"b@example.net","text":"plain",
    "html":"<img src=\"cid:logo@example.com\"><img src=\"cid:dot\">","attachments":[)") +
                                 attachment_json("logo.png", "image/png", png, "logo@example.com") + "," +
                                 attachment_json("terms.pdf", "application/pdf", pdf) + "," +
                                 attachment_json("dot.gif", "image/gif", gif, "dot") + "]}");
  EXPECT_EQ(r.py.tree,
            "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png,image/gif)),"
            "application/pdf)");
  EXPECT_EQ(r.py.related_type, "text/html");
  const PyLeaf& logo = leaf(r.py, "image/png");
  EXPECT_EQ(logo.content_id, "<logo@example.com>");
  EXPECT_EQ(logo.disposition, "inline");
  EXPECT_EQ(logo.filename, "logo.png");
  EXPECT_EQ(logo.bytes, png);
  EXPECT_EQ(leaf(r.py, "image/gif").content_id, "<dot>");
  EXPECT_EQ(leaf(r.py, "image/gif").bytes, gif);
  EXPECT_EQ(leaf(r.py, "application/pdf").disposition, "attachment");
  EXPECT_EQ(leaf(r.py, "application/pdf").content_id, std::nullopt);
}

TEST(PythonEmail, HtmlOnlyWithInlineImageIsRelatedAtTheTop) {
  const std::string png = random_bytes(100, 9);
  const Rendered r = render_json(std::string(R"({"from":"a@example.com","to":"b@example.net",
    "html":"<img src=\"cid:i\">","attachments":[)") +
                                 attachment_json("i.png", "image/png", png, "i") + "]}");
  EXPECT_EQ(r.py.tree, "multipart/related(text/html,image/png)");
  EXPECT_EQ(leaf(r.py, "image/png").bytes, png);
}

TEST(PythonEmail, IdnaDomainsAreALabelsInHeadersAndEnvelope) {
  const Rendered r = render_json(R"({"from":{"address":"info@m\u00fcller.example","name":"M\u00fcller"},
    "to":[{"address":"bob@B\u00dcCHER.example","name":"Bob"},"jo@\u4f8b\u3048.jp"],"reply_to":"r@r\u00e9ponse.example",
    "bcc":"x@b\u00fccher.example","text":"x"})");
  EXPECT_EQ(r.py.from, (std::vector<PyAddress>{{"M\xc3\xbcller", "info@xn--mller-kva.example"}}));
  // The domain is mapped (upper case folded) and converted; the local part keeps its case.
  // (A non-ASCII local part stays as it is too, which Python flags without SMTPUTF8 / RFC 6532;
  // ParseSubmitFields.IdnaLeavesLocalPartAlone covers it.)
  EXPECT_EQ(r.py.to, (std::vector<PyAddress>{{"Bob", "bob@xn--bcher-kva.example"},
                                             {"", "jo@xn--r8jz45g.jp"}}));
  EXPECT_EQ(r.py.reply_to, (std::vector<PyAddress>{{"", "r@xn--rponse-bva.example"}}));
  EXPECT_EQ(r.msg.envelope_recipients(),
            (std::vector<std::string>{"bob@xn--bcher-kva.example", "jo@xn--r8jz45g.jp", "x@xn--bcher-kva.example"}));
}

TEST(PythonEmail, RawMessageGainsOnlyIdAndDate) {
  const std::string body = "line one\r\n\xc3\xa9\r\n";
  SubmitMessage m;
  m.from = "a@example.com";
  m.to = {"b@example.net"};
  m.raw = "From: a@example.com\r\nTo: b@example.net\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nBcc: h@example.org\r\n\r\n" + body;
  const std::string rendered = render_message(m, kId, kHost, kNow);
  const PyView py = python_view(rendered);
  ASSERT_EQ(py.error, "");
  EXPECT_EQ(py.subject, "caf\xc3\xa9");
  EXPECT_FALSE(py.bcc_present);
  EXPECT_EQ(py.message_id, "<01HF3Z2Q8W4Y5V6T7S8R9Q0P1N@mta.example.test>");
  EXPECT_EQ(py.date, "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_TRUE(rendered.ends_with("\r\n\r\n" + body));
}

}  // namespace
}  // namespace ringpost::api
