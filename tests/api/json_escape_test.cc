#include "engine/api/json_escape.h"

#include <gtest/gtest.h>

namespace ringpost::api {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonEscape, QuotesAndBackslash) {
  EXPECT_EQ(esc(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
}

TEST(JsonEscape, ShortEscapesForCommonControls) {
  EXPECT_EQ(esc("a\nb\rc\td\be\ff"), R"("a\nb\rc\td\be\ff")");
}

TEST(JsonEscape, OtherControlsAsUnicodeEscapes) {
  EXPECT_EQ(esc(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
}

TEST(JsonEscape, DelAndSlashPassThrough) {
  EXPECT_EQ(esc("a/b\x7f"), "\"a/b\x7f\"");
}

TEST(JsonEscape, ValidUtf8PassesThroughByteExact) {
  const std::string s = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x93\xa7 \xe4\xbd\xa0\xe5\xa5\xbd";
  EXPECT_EQ(esc(s), "\"" + s + "\"");
}

TEST(JsonEscape, IllFormedUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(esc("a\xff" "b"), R"("a\ufffdb")");
  EXPECT_EQ(esc("\xc3"), R"("\ufffd")");                 // truncated sequence
  EXPECT_EQ(esc("\xc0\xaf"), R"("\ufffd\ufffd")");       // overlong '/'
  EXPECT_EQ(esc("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // UTF-16 surrogate
}

TEST(JsonEscape, AppendsToExistingContent) {
  std::string out = "x:";
  append_json_string(out, "");
  EXPECT_EQ(out, "x:\"\"");
}

}  // namespace
}  // namespace ringpost::api
