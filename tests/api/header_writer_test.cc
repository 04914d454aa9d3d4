#include "engine/api/header_writer.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/api/utf8.h"
#include "tests/api/mail_test_util.h"

namespace ringpost::api {
namespace {

using testing::decode_encoded_words;
using testing::split_crlf_lines;
using testing::unfold;

std::string subject_field(std::string_view text) {
  std::string out;
  append_unstructured_field(out, "Subject", text);
  return out;
}

// The value after "Subject: " with the final CRLF removed, still folded.
std::string folded_value(const std::string& field) {
  EXPECT_TRUE(field.starts_with("Subject: "));
  EXPECT_TRUE(field.ends_with("\r\n"));
  return field.substr(9, field.size() - 11);
}

void expect_max_line(const std::string& s, std::size_t limit) {
  for (const std::string& line : split_crlf_lines(s)) EXPECT_LE(line.size(), limit) << line;
}

TEST(UnstructuredField, ShortAsciiIsWrittenAsIs) {
  EXPECT_EQ(subject_field("Hello, world"), "Subject: Hello, world\r\n");
}

TEST(UnstructuredField, LongAsciiFoldsAtWhitespaceAndUnfoldsExactly) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "word" + std::to_string(i) + (i % 7 == 0 ? "   " : " ");
  text += "end  ";  // trailing whitespace must survive, and not sit alone on a line
  const std::string field = subject_field(text);
  expect_max_line(field, 78);
  EXPECT_GT(split_crlf_lines(field).size(), 3u);
  EXPECT_EQ(unfold(folded_value(field)), text);
  for (const std::string& line : split_crlf_lines(field)) {
    EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << "all-whitespace line";
  }
}

TEST(UnstructuredField, NonAsciiBecomesEncodedWords) {
  const std::string text = "Caf\xc3\xa9 \xe2\x98\x95 na\xc3\xafve";
  const std::string field = subject_field(text);
  EXPECT_TRUE(field.starts_with("Subject: =?UTF-8?B?")) << field;
  EXPECT_EQ(decode_encoded_words(folded_value(field)), text);
}

TEST(UnstructuredField, LongNonAsciiSplitsBetweenCharactersWithin76) {
  std::string text;
  for (int i = 0; i < 120; ++i) text += (i % 3 == 0) ? "\xe4\xbd\xa0" : (i % 3 == 1 ? "\xf0\x9f\x93\xa7" : "a ");
  const std::string field = subject_field(text);
  expect_max_line(field, 76);
  const std::string value = folded_value(field);
  EXPECT_EQ(decode_encoded_words(value), text);
  // Each word must decode to whole characters on its own (RFC 2047 §5).
  for (const std::string& line : split_crlf_lines(value)) {
    const auto piece = decode_encoded_words(line);
    ASSERT_TRUE(piece.has_value()) << line;
    EXPECT_TRUE(is_valid_utf8(*piece)) << line;
  }
}

TEST(UnstructuredField, AsciiLookingLikeAnEncodedWordIsEncoded) {
  const std::string text = "=?UTF-8?B?SGk=?= is not what I typed";
  const std::string field = subject_field(text);
  EXPECT_EQ(decode_encoded_words(folded_value(field)), text);
}

TEST(UnstructuredField, ControlCharactersAreNeverWrittenRaw) {
  const std::string text = "a\r\nBcc: evil@example.org";
  const std::string field = subject_field(text);
  EXPECT_EQ(field.find("\r\nBcc"), std::string::npos);
  EXPECT_EQ(decode_encoded_words(folded_value(field)), text);
}

TEST(UnstructuredField, UnbreakableAsciiWordFallsBackToEncodedWords) {
  const std::string text = "start " + std::string(1200, 'x');
  const std::string field = subject_field(text);
  expect_max_line(field, 76);
  EXPECT_EQ(decode_encoded_words(folded_value(field)), text);
}

TEST(UnstructuredField, RandomTextRoundTrips) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"a", "Z", " ", "  ", "\t", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                           "=", "?", "longword"};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 300) + 1;
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    const std::string field = subject_field(text);
    expect_max_line(field, 998);
    const std::string value = folded_value(field);
    const auto decoded = value.starts_with("=?UTF-8?B?") ? decode_encoded_words(value) : unfold(value);
    ASSERT_EQ(decoded, text) << field;
  }
}

TEST(AddressListField, JoinsAndFoldsAfterCommas) {
  std::vector<std::string> addresses;
  for (int i = 0; i < 30; ++i) addresses.push_back("recipient" + std::to_string(i) + "@example.net");
  std::string field;
  append_address_list_field(field, "To", addresses);
  expect_max_line(field, 78);
  std::string joined;
  for (std::size_t i = 0; i < addresses.size(); ++i) joined += (i ? ", " : "") + addresses[i];
  EXPECT_EQ(unfold(field), "To: " + joined + "\r\n");
}

TEST(AddressListField, SingleAddress) {
  std::string field;
  append_address_list_field(field, "Cc", {"a@example.com"});
  EXPECT_EQ(field, "Cc: a@example.com\r\n");
}

}  // namespace
}  // namespace ringpost::api
