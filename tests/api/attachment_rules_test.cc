#include "engine/api/attachment_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace ringpost::api {
namespace {

TEST(AttachmentRules, Filenames) {
  for (const std::string& ok : {std::string("report.pdf"), std::string("\xc3\x9c" "bersicht M\xc3\xa4rz.pdf"),
                               std::string("a \"quoted\" name.txt"), std::string(".bashrc"), std::string(255, 'x')}) {
    EXPECT_TRUE(check_filename(ok).has_value()) << ok;
  }
  for (const std::string& bad : {std::string(), std::string(256, 'x'), std::string("a/b.pdf"), std::string("..\\x.pdf"),
                                std::string("."), std::string(".."), std::string("a\r\nb.pdf"), std::string("tab\t.pdf"),
                                std::string("c1\xc2\x85.pdf")}) {
    EXPECT_FALSE(check_filename(bad).has_value()) << bad;
  }
}

TEST(AttachmentRules, ContentTypes) {
  for (const char* ok : {"application/pdf", "image/png", "text/csv; charset=utf-8", "text/plain;charset=\"us-ascii\"",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Text/Plain",
                         "application/x-thing; a=1; b=\"two words\""}) {
    EXPECT_TRUE(check_content_type(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "pdf", "application/", "/pdf", "application/pdf extra", "application/pdf;",
                          "application/pdf; a", "application/pdf; a=", "text/plain; a=\"open",
                          "text/plain; a=\"caf\xc3\xa9\"", "multipart/mixed", "message/rfc822",
                          "application/pdf; name=x.pdf", "text/plain\r\nBcc: x@example.com", "appl ication/pdf"}) {
    EXPECT_FALSE(check_content_type(bad).has_value()) << bad;
  }
  EXPECT_NE(check_content_type("multipart/mixed").error().find("octet-stream"), std::string_view::npos);
}

TEST(AttachmentRules, ContentIds) {
  for (const char* ok : {"logo", "logo@example.com", "part1.abc$def", "a+b=c"}) {
    EXPECT_TRUE(check_content_id(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "<logo>", "logo>", "a b", "a@b@c", ".a", "a..b", "a@", "caf\xc3\xa9", "a\"b"}) {
    EXPECT_FALSE(check_content_id(bad).has_value()) << bad;
  }
  EXPECT_EQ(check_content_id("<x@y>").error(), "content_id must be given without angle brackets");
}

}  // namespace
}  // namespace ringpost::api
