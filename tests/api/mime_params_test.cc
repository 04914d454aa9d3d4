#include "engine/api/mime_params.h"

#include <gtest/gtest.h>

#include "tests/api/mail_test_util.h"

namespace ringpost::api {
namespace {

std::string param(std::string_view attribute, std::string_view value) {
  std::string out;
  append_param(out, attribute, value);
  return out;
}

TEST(MimeParams, ShortAsciiIsQuoted) {
  EXPECT_EQ(param("filename", "report.pdf"), ";\r\n filename=\"report.pdf\"");
  EXPECT_EQ(param("filename", "a \"b\" \\c"), ";\r\n filename=\"a \\\"b\\\" \\\\c\"");
}

TEST(MimeParams, NonAsciiUsesRfc2231) {
  EXPECT_EQ(param("filename", "\xe2\x82\xac rates.pdf"), ";\r\n filename*=utf-8''%E2%82%AC%20rates.pdf");
}

TEST(MimeParams, LongValuesAreSplitIntoNumberedSectionsOfWholeCharacters) {
  std::string value;
  for (int i = 0; i < 40; ++i) value += "\xc3\xa9x";
  const std::string out = param("filename", value);
  const auto lines = testing::split_crlf_lines(out);
  ASSERT_GE(lines.size(), 4u);  // ";" then sections
  EXPECT_TRUE(lines[1].starts_with(" filename*0*=utf-8''%C3%A9x")) << lines[1];
  std::string joined;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), 78u) << lines[i];
    const std::string head = " filename*" + std::to_string(i - 1) + "*=";
    ASSERT_TRUE(lines[i].starts_with(head)) << lines[i];
    std::string body = lines[i].substr(head.size());
    if (i == 1) body = body.substr(std::string("utf-8''").size());
    if (body.ends_with(";")) body.pop_back();
    // Cut between characters: no section starts inside a %C3%A9 pair.
    EXPECT_FALSE(body.starts_with("%A9")) << lines[i];
    joined += body;
  }
  std::string decoded;
  for (std::size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] == '%') {
      decoded.push_back(static_cast<char>(std::stoi(joined.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      decoded.push_back(joined[i]);
    }
  }
  EXPECT_EQ(decoded, value);
}

TEST(MimeParams, LongAsciiAlsoUsesSectionsToStayWithin78) {
  const std::string out = param("filename", std::string(120, 'a') + ".txt");
  for (const std::string& line : testing::split_crlf_lines(out)) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_NE(out.find("filename*1*="), std::string::npos);
}

}  // namespace
}  // namespace ringpost::api
