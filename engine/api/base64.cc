// Base64, RFC 4648 §4 and RFC 2045 §6.8. Invariant of base64_decode: it accepts exactly the
// strings append_base64 can produce, apart from interleaved whitespace.
#include "engine/api/base64.h"

#include <array>

#include <fmt/format.h>

namespace ringpost::api {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
  std::array<int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return r;
}
constexpr std::array<int8_t, 256> kReverse = make_reverse();

constexpr bool is_skipped(char c) { return c == '\r' || c == '\n' || c == ' ' || c == '\t'; }

}  // namespace

void append_base64(std::string& out, std::string_view in) {
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const std::size_t rest = in.size() - i) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(rest == 2 ? kAlphabet[v >> 6 & 63] : '=');
    out.push_back('=');
  }
}

std::size_t base64_lines_size(std::size_t n, std::size_t line_length) {
  const std::size_t chars = (n + 2) / 3 * 4;
  const std::size_t lines = chars == 0 ? 0 : (chars + line_length - 1) / line_length;
  return chars + (lines > 0 ? 2 * (lines - 1) : 0);
}

std::string base64_lines(std::string_view in, std::size_t line_length) {
  // Encoding whole lines' worth of input (line_length / 4 * 3 octets) at a time keeps each
  // line a run of complete 4-character groups, so only the last line can carry padding.
  const std::size_t chunk = line_length / 4 * 3;
  std::string out;
  out.reserve(base64_lines_size(in.size(), line_length));
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    if (i > 0) out += "\r\n";
    append_base64(out, in.substr(i, chunk));
  }
  return out;
}

tl::expected<std::string, std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(base64_decoded_size_bound(in.size()));
  unsigned acc = 0;
  int in_group = 0;    // characters of the current 4-character group seen so far
  int padding = 0;     // '=' seen; after the first, only '=' and whitespace may follow
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (is_skipped(c)) continue;
    if (c == '=') {
      // "xx==" or "xxx=": padding only in the last two places of a group.
      if (in_group < 2) {
        return tl::make_unexpected(fmt::format("'=' at offset {} is not at the end of a 4-character group", i));
      }
      ++padding;
      acc <<= 6;
      if (++in_group == 4) {
        out.push_back(static_cast<char>(acc >> 16 & 0xFF));
        out.push_back(static_cast<char>(acc >> 8 & 0xFF));
        out.push_back(static_cast<char>(acc & 0xFF));
        acc = 0;
        in_group = 0;
      }
      continue;
    }
    const int v = kReverse[static_cast<unsigned char>(c)];
    if (v < 0) {
      if (c == '-' || c == '_') {
        return tl::make_unexpected(fmt::format(
            "'{}' at offset {} belongs to the URL-safe alphabet; use standard base64 (+ and /)", c, i));
      }
      return tl::make_unexpected(fmt::format("offset {} is not a base64 character", i));
    }
    if (padding > 0) return tl::make_unexpected(fmt::format("data after '=' padding at offset {}", i));
    acc = acc << 6 | static_cast<unsigned>(v);
    if (++in_group == 4) {
      out.push_back(static_cast<char>(acc >> 16 & 0xFF));
      out.push_back(static_cast<char>(acc >> 8 & 0xFF));
      out.push_back(static_cast<char>(acc & 0xFF));
      acc = 0;
      in_group = 0;
    }
  }
  if (in_group != 0) {
    return tl::make_unexpected("length is not a multiple of 4 characters; base64 must be padded with '='");
  }
  if (padding > 2) return tl::make_unexpected("more than two '=' of padding");
  if (padding > 0) {
    // The last group decoded to 3 octets above; drop the ones that padding stands for, and
    // refuse non-zero bits in what was dropped: they would be silently lost.
    const auto last = [&](std::size_t k) { return static_cast<unsigned char>(out[out.size() - k]); };
    if ((padding == 1 && last(1) != 0) || (padding == 2 && (last(1) != 0 || last(2) != 0))) {
      return tl::make_unexpected("the last group has non-zero bits in its padding (not canonical base64)");
    }
    out.resize(out.size() - padding);
  }
  return out;
}

}  // namespace ringpost::api
