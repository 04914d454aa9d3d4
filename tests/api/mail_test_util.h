// Test-only decoders for what the renderer encodes: quoted-printable (RFC 2045 §6.7), base64,
// RFC 2047 encoded-words, header unfolding. Deliberately naive and independent of the code
// under test, so a round trip through both checks the encoder rather than agreeing with it.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringpost::api::testing {

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 2045 encoders must use upper case; lower case counts as a failure here
}

// Returns nullopt on any malformed escape.
inline std::optional<std::string> qp_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out.push_back(s[i]);
      continue;
    }
    if (s.substr(i + 1, 2) == "\r\n") {  // soft line break
      i += 2;
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

inline std::string base64_decode(std::string_view s) {
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (const char c : s) {
    if (c == '=') break;
    const auto v = kAlphabet.find(c);
    EXPECT_NE(v, std::string_view::npos) << "bad base64 character " << c;
    acc = acc << 6 | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

inline std::vector<std::string> split_crlf_lines(std::string_view s) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const std::size_t eol = s.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (pos < s.size()) lines.emplace_back(s.substr(pos));
      break;
    }
    lines.emplace_back(s.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return lines;
}

// RFC 5322 §2.2.3 unfolding: remove every CRLF that is followed by WSP.
inline std::string unfold(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.substr(i, 2) == "\r\n" && i + 2 < s.size() && (s[i + 2] == ' ' || s[i + 2] == '\t')) {
      ++i;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// Decodes an unstructured value made only of "=?UTF-8?B?...?=" words separated by whitespace.
inline std::optional<std::string> decode_encoded_words(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n') {
      ++i;
      continue;
    }
    if (value.substr(i, 10) != "=?UTF-8?B?") return std::nullopt;
    const std::size_t end = value.find("?=", i + 10);
    if (end == std::string_view::npos) return std::nullopt;
    if (end + 2 - i > 75) return std::nullopt;  // RFC 2047 §2: an encoded-word is at most 75 characters
    out += base64_decode(value.substr(i + 10, end - i - 10));
    i = end + 2;
  }
  return out;
}

// Everything after "Name: " up to the end of the (possibly folded) field, still folded.
inline std::optional<std::string> raw_field_value(std::string_view message, std::string_view name) {
  const std::string needle = std::string(name) + ": ";
  std::size_t pos = message.starts_with(needle) ? 0 : std::string_view::npos;
  if (pos == std::string_view::npos) {
    const std::size_t at = message.find("\r\n" + needle);
    if (at == std::string_view::npos) return std::nullopt;
    pos = at + 2;
  }
  pos += needle.size();
  std::size_t end = pos;
  while (true) {
    end = message.find("\r\n", end);
    if (end == std::string_view::npos) return std::string(message.substr(pos));
    if (end + 2 < message.size() && (message[end + 2] == ' ' || message[end + 2] == '\t')) {
      end += 2;
      continue;
    }
    return std::string(message.substr(pos, end - pos));
  }
}

inline bool has_bare_cr_or_lf(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return true;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
  }
  return false;
}

}  // namespace ringpost::api::testing
