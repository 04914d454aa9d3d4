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


std::string mailbox_field(std::vector<NamedAddress> list) {
  std::string out;
  append_mailbox_list_field(out, "To", list);
  return out;
}

// Decodes a display name as RFC 2047 §6.2 says: encoded-words decoded, whitespace between two
// adjacent encoded-words dropped, other whitespace kept as one space; quoted-strings unquoted.
std::string decode_phrase(std::string_view phrase) {
  std::string out;
  bool last_encoded = false, first = true;
  std::size_t i = 0;
  while (i < phrase.size()) {
    if (phrase[i] == ' ') {
      ++i;
      continue;
    }
    std::string token;
    bool encoded = false;
    if (phrase[i] == '"') {
      for (++i; i < phrase.size() && phrase[i] != '"'; ++i) {
        if (phrase[i] == '\\') ++i;
        token.push_back(phrase[i]);
      }
      ++i;
    } else {
      const std::size_t end = std::min(phrase.find(' ', i), phrase.size());
      const std::string_view word = phrase.substr(i, end - i);
      i = end;
      if (word.starts_with("=?UTF-8?B?")) {
        encoded = true;
        token = decode_encoded_words(word).value_or("<bad word>");
      } else {
        token = std::string(word);
      }
    }
    if (!first && !(encoded && last_encoded)) out.push_back(' ');
    out += token;
    first = false;
    last_encoded = encoded;
  }
  return out;
}

// Splits an unfolded "To: ..." value into (display name, address) pairs. Test inputs have no
// commas inside names unless quoted.
std::vector<NamedAddress> parse_mailboxes(std::string value) {
  std::vector<NamedAddress> out;
  std::size_t pos = 0;
  while (pos < value.size()) {
    std::size_t end = pos;
    bool quoted = false;
    while (end < value.size() && (quoted || value[end] != ',')) {
      if (value[end] == '"') quoted = !quoted;
      if (value[end] == '\\') ++end;
      ++end;
    }
    std::string item = value.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    const std::size_t lt = item.rfind('<');
    if (lt == std::string::npos) {
      out.push_back({item, ""});
    } else {
      std::string name = item.substr(0, lt);
      while (!name.empty() && name.back() == ' ') name.pop_back();
      out.push_back({item.substr(lt + 1, item.size() - lt - 2), decode_phrase(name)});
    }
    pos = end + 1;
  }
  return out;
}

std::vector<NamedAddress> round_trip(const std::vector<NamedAddress>& list) {
  const std::string field = mailbox_field(list);
  EXPECT_TRUE(field.starts_with("To: ")) << field;
  const std::string unfolded = unfold(field);
  return parse_mailboxes(unfolded.substr(4, unfolded.size() - 6));
}

TEST(MailboxListField, PlainNamesAreAtoms) {
  EXPECT_EQ(mailbox_field({{"a@example.com", "Ann Lee"}}), "To: Ann Lee <a@example.com>\r\n");
  EXPECT_EQ(mailbox_field({{"a@example.com", ""}, {"b@example.com", "Bob"}}), "To: a@example.com, Bob <b@example.com>\r\n");
}

TEST(MailboxListField, SpecialsGoInAQuotedString) {
  EXPECT_EQ(mailbox_field({{"a@example.com", "Lee, Ann"}}), "To: \"Lee, Ann\" <a@example.com>\r\n");
  EXPECT_EQ(mailbox_field({{"a@example.com", "J. \"Jay\" Doe \\ Co"}}), "To: \"J. \\\"Jay\\\" Doe \\\\ Co\" <a@example.com>\r\n");
  EXPECT_EQ(mailbox_field({{"a@example.com", " two  spaces "}}), "To: \" two  spaces \" <a@example.com>\r\n");
}

TEST(MailboxListField, NonAsciiWordsAreEncodedAndAsciiWordsStayAtoms) {
  EXPECT_EQ(mailbox_field({{"a@example.com", "J\xc3\xbcrgen Smith"}}), "To: =?UTF-8?B?SsO8cmdlbg==?= Smith <a@example.com>\r\n");
  // A run of non-atom words is one encoded text including its inner space.
  EXPECT_EQ(mailbox_field({{"a@example.com", "Dr. J\xc3\xbcrgen"}}), "To: =?UTF-8?B?RHIuIErDvHJnZW4=?= <a@example.com>\r\n");
  // "=?" in a name would be decoded by readers, so it is encoded itself.
  EXPECT_EQ(round_trip({{"a@example.com", "=?UTF-8?B?SGk=?= hi"}}),
            (std::vector<NamedAddress>{{"a@example.com", "=?UTF-8?B?SGk=?= hi"}}));
}

TEST(MailboxListField, RoundTripsThroughAnRfc2047Decoder) {
  const std::vector<NamedAddress> list = {
      {"a@example.com", "Zo\xc3\xab \xc3\x84ngstr\xc3\xb6m"},
      {"b@example.com", "\xe5\xbc\xa0\xe4\xbc\x9f"},
      {"c@example.com", " leading and trailing \xc3\xa9 "},
      {"d@example.com", "M\xc3\xbcller, Hans"},
      {"e@example.com", ""},
      {"f@example.com", std::string(40, 'x') + " \xe2\x82\xac " + std::string(50, 'y')},
  };
  EXPECT_EQ(round_trip(list), list);
}

TEST(MailboxListField, LongNamesFoldWithin76WhereEncodedAnd78Elsewhere) {
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "\xe6\x97\xa5";  // 180 octets: several encoded-words
  std::vector<NamedAddress> list = {{"first@example.com", long_name}};
  for (int i = 0; i < 20; ++i) list.push_back({"r" + std::to_string(i) + "@example.net", "Recipient Number " + std::to_string(i)});
  const std::string field = mailbox_field(list);
  for (const std::string& line : split_crlf_lines(field)) {
    EXPECT_LE(line.size(), line.find("=?") != std::string::npos ? 76u : 78u) << line;
  }
  EXPECT_EQ(round_trip(list), list);
}

TEST(MailboxListField, FirstEncodedWordFitsBesideTheLongestFieldName) {
  std::string name;
  for (int i = 0; i < 60; ++i) name += "\xc3\xa9";  // 2-octet characters pack the most per word
  std::string out;
  const std::vector<NamedAddress> list = {{"a@example.com", name}};
  append_mailbox_list_field(out, "Reply-To", list);
  EXPECT_TRUE(out.starts_with("Reply-To: =?UTF-8?B?")) << out;
  for (const std::string& line : split_crlf_lines(out)) EXPECT_LE(line.size(), 76u) << line;
}

TEST(MailboxListField, MaximalQuotedNameStaysUnder998) {
  const std::string name(256, '"');  // every octet escaped: 514 octets quoted
  const std::string field = mailbox_field({{std::string(64, 'l') + "@" + std::string(180, 'd') + ".example", name}});
  for (const std::string& line : split_crlf_lines(field)) EXPECT_LE(line.size(), 998u);
}

TEST(EncodedWords, ShorterMaximumIsHonoured) {
  const std::string text(100, 'x');
  for (const std::size_t max : {20u, 32u, 64u}) {
    std::string joined;
    for (const std::string& w : encoded_words(text, max)) {
      EXPECT_LE(w.size(), max);
      joined += decode_encoded_words(w).value_or("?");
    }
    EXPECT_EQ(joined, text);
  }
}

TEST(EncodedWords, EachAtMost75AndWholeCharacters) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += i % 2 ? "\xf0\x9f\x93\xa7" : "a\xc3\xa9";
  const std::vector<std::string> words = encoded_words(text);
  ASSERT_GT(words.size(), 3u);
  std::string joined;
  for (const std::string& w : words) {
    EXPECT_LE(w.size(), 75u);
    const auto piece = decode_encoded_words(w);
    ASSERT_TRUE(piece.has_value()) << w;
    EXPECT_TRUE(is_valid_utf8(*piece)) << w;
    joined += *piece;
  }
  EXPECT_EQ(joined, text);
  EXPECT_TRUE(encoded_words("").empty());
}

}  // namespace
}  // namespace ringpost::api
