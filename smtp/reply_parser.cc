// See reply_parser.h. Lines are examined in place when they arrive whole; only a line split
// across reads is copied (into partial_), so the common case is one memchr per line and no copy
// beyond the reply text itself.
#include "smtp/reply_parser.h"

#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace ringpost::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A short, printable excerpt of a bad line for the error message (it ends up in logs and in
// the deferral reason, so no raw control bytes and no unbounded length).
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 40;
  std::string s;
  for (char c : line.substr(0, kMax)) {
    if (c >= 0x20 && c < 0x7f) {
      s += c;
    } else {
      s += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  if (line.size() > kMax) s += "...";
  return s;
}

// Length of a "1*3digit" run at the start of s, or 0 if it is not 1 to 3 digits.
std::size_t digit_run(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && n < 4 && is_digit(s[n])) ++n;
  return n >= 1 && n <= 3 ? n : 0;
}

// Length of an RFC 3463 status code "class.subject.detail" at the start of text, or 0.
// RFC 2034 §4: the code is only an enhanced code when its class equals the reply's first
// digit, and the classes are 2, 4 and 5 only (a 354's "3.x.y" text is just text). It must be
// followed by SP or the end of the line, so "2.0.0abc" stays text.
std::size_t enhanced_code_length(std::string_view text, char reply_class) {
  if (reply_class != '2' && reply_class != '4' && reply_class != '5') return 0;
  if (text.size() < 5 || text[0] != reply_class || text[1] != '.') return 0;
  std::size_t pos = 2;
  std::size_t n = digit_run(text.substr(pos));
  if (n == 0) return 0;
  pos += n;
  if (pos >= text.size() || text[pos] != '.') return 0;
  ++pos;
  n = digit_run(text.substr(pos));
  if (n == 0) return 0;
  pos += n;
  if (pos < text.size() && text[pos] != ' ') return 0;
  return pos;
}

}  // namespace

ReplyParser::Result ReplyParser::fail(std::size_t consumed, std::string why) {
  error_ = std::move(why);
  partial_.clear();
  building_ = Reply{};
  in_reply_ = false;
  return {Status::error, consumed, error_};
}

void ReplyParser::reset() {
  partial_.clear();
  building_ = Reply{};
  in_reply_ = false;
  error_.clear();
}

ReplyParser::Result ReplyParser::parse(std::string_view in, Reply& out) {
  if (!error_.empty()) return {Status::error, 0, error_};
  std::size_t pos = 0;
  while (pos < in.size()) {
    const void* nl = std::memchr(in.data() + pos, '\n', in.size() - pos);
    if (nl == nullptr) {
      // No line end yet. +1 leaves room for the CR of a maximal line whose LF is still in flight.
      if (partial_.size() + (in.size() - pos) > kMaxLine + 1) {
        return fail(in.size(), fmt::format("reply line longer than {} bytes", kMaxLine));
      }
      partial_.append(in.substr(pos));
      return {Status::need_more, in.size(), {}};
    }
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - in.data());
    std::string_view line;
    if (partial_.empty()) {
      line = in.substr(pos, end - pos);
    } else {
      partial_.append(in.substr(pos, end - pos));
      line = partial_;
    }
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    bool done = false;
    const bool ok = take_line(line, done);  // `line` may point into partial_: clear only after
    partial_.clear();
    if (!ok) return fail(pos, error_);
    if (done) {
      out = std::move(building_);
      building_ = Reply{};
      in_reply_ = false;
      return {Status::complete, pos, {}};
    }
  }
  return {Status::need_more, in.size(), {}};
}

bool ReplyParser::take_line(std::string_view line, bool& done) {
  if (line.size() > kMaxLine) {
    error_ = fmt::format("reply line longer than {} bytes", kMaxLine);
    return false;
  }
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
    error_ = fmt::format("reply line does not start with a three-digit code: '{}'", excerpt(line));
    return false;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (code < 200 || code > 599) {
    error_ = fmt::format("reply code {} outside 200..599: '{}'", code, excerpt(line));
    return false;
  }
  // RFC 5321 §4.2: "code SP text", "code - text" (more lines follow), or a bare "code".
  const char sep = line.size() == 3 ? ' ' : line[3];
  if (sep != ' ' && sep != '-') {
    error_ = fmt::format("reply code not followed by SP or '-': '{}'", excerpt(line));
    return false;
  }
  if (in_reply_ && code != building_.code) {
    error_ = fmt::format("reply code changed from {} to {} within a multi-line reply", building_.code, code);
    return false;
  }

  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (const std::size_t n = enhanced_code_length(text, line[0]); n != 0) {
    // RFC 2034 §4 puts the code on every line; the first one is the reply's.
    if (building_.enhanced.empty()) building_.enhanced.assign(text.substr(0, n));
    text.remove_prefix(n);
    if (!text.empty()) text.remove_prefix(1);  // the SP after the code
  }

  if (!in_reply_) {
    building_.code = code;
    building_.text.assign(text);
    in_reply_ = true;
  } else {
    if (building_.text.size() + 1 + text.size() > kMaxReply) {
      error_ = fmt::format("multi-line reply longer than {} bytes", kMaxReply);
      return false;
    }
    building_.text += '\n';
    building_.text.append(text);
  }
  done = sep == ' ';
  return true;
}

}  // namespace ringpost::smtp
