// Header field writing: RFC 5322 §2.2.3 folding (CRLF inserted only before existing WSP, so
// unfolding restores the value exactly) and RFC 2047 encoded-words. Invariant: no line of
// output exceeds 998 octets and no CR or LF from a value reaches the output unencoded.
#include "engine/api/header_writer.h"

#include <algorithm>

#include "engine/api/ascii.h"
#include "engine/api/base64.h"
#include "engine/api/field_rules.h"
#include "engine/api/utf8.h"

namespace ringpost::api {
namespace {

constexpr std::size_t kFoldAt = 78;              // RFC 5322 §2.1.1 SHOULD
constexpr std::size_t kEncodedLineLimit = 76;    // RFC 2047 §2, lines holding encoded-words
constexpr std::string_view kWordOpen = "=?UTF-8?B?";
constexpr std::string_view kWordClose = "?=";

// Calls f with each piece folding may move to a new line: the first word (with any leading
// whitespace), then each whitespace run together with the word after it. Trailing whitespace
// stays with the last word, so no continuation line is all whitespace (RFC 5322 §3.2.2).
template <typename F>
void for_each_fold_segment(std::string_view text, F&& f) {
  const std::size_t last_word = text.find_last_not_of(" \t");
  std::size_t start = 0;
  for (std::size_t i = 1; last_word != std::string_view::npos && i < last_word; ++i) {
    if (is_wsp(text[i]) && !is_wsp(text[i - 1])) {
      f(text.substr(start, i - start));
      start = i;
    }
  }
  f(text.substr(start));
}

bool needs_encoded_words(std::string_view name, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7F) return true;
  }
  if (text.find("=?") != std::string_view::npos) return true;
  // Folding cannot split a segment; one that cannot fit a 998-octet line needs encoded-words,
  // which can be split anywhere between characters.
  bool too_long = false;
  for_each_fold_segment(text, [&](std::string_view seg) {
    too_long = too_long || name.size() + 2 + seg.size() > kMaxLineLength;
  });
  return too_long;
}

void append_folded_ascii(std::string& out, std::string_view text, std::size_t line) {
  bool first = true;
  for_each_fold_segment(text, [&](std::string_view seg) {
    if (!first && line + seg.size() > kFoldAt) {
      out += "\r\n";  // seg starts with WSP, which becomes the continuation line's indent
      line = 0;
    }
    out += seg;
    line += seg.size();
    first = false;
  });
}

// One encoded-word per line; words split only between UTF-8 characters, as RFC 2047 §5 requires
// (each word must decode on its own). White space between adjacent encoded-words is ignored by
// decoders (RFC 2047 §6.2), so the split adds nothing to the decoded text.
void append_encoded_words(std::string& out, std::string_view text, std::size_t line) {
  const std::size_t overhead = kWordOpen.size() + kWordClose.size();
  std::size_t i = 0;
  do {
    if (i > 0) {
      out += "\r\n ";
      line = 1;
    }
    const std::size_t room = kEncodedLineLimit > line + overhead ? kEncodedLineLimit - line - overhead : 0;
    const std::size_t max_bytes = room / 4 * 3;
    std::size_t take = 0;
    while (i + take < text.size()) {
      // An ill-formed byte is carried alone; the validator never lets one through.
      const std::size_t n = std::max<std::size_t>(utf8_char_length(text.substr(i + take)), 1);
      if (take > 0 && take + n > max_bytes) break;  // take > 0: always make progress
      take += n;
    }
    const std::size_t before = out.size();
    out += kWordOpen;
    append_base64(out, text.substr(i, take));
    out += kWordClose;
    line += out.size() - before;
    i += take;
  } while (i < text.size());
}

// RFC 5322 §3.2.3 atext: the characters of an atom.
bool is_atext(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (is_ascii_alnum(c)) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(ch) != std::string_view::npos;
}

bool is_atom(std::string_view word) {
  // "=?" would make a reader try to decode the atom as an encoded-word (RFC 2047 §6.1).
  return !word.empty() && std::all_of(word.begin(), word.end(), is_atext) && word.find("=?") == std::string_view::npos;
}

struct PhraseToken {
  std::string text;
  bool encoded = false;  // an encoded-word: its line must stay within 76 octets
};

std::vector<std::string_view> split_on_spaces(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (true) {
    const std::size_t sp = s.find(' ', start);
    words.push_back(s.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start));
    if (sp == std::string_view::npos) return words;
    start = sp + 1;
  }
}

// 64 characters: the first word shares its line with the field name, and "Reply-To: " (the
// longest name these fields have) + 64 stays within RFC 2047's 76.
constexpr std::size_t kPhraseWordLength = 64;

void add_encoded(std::vector<PhraseToken>& tokens, std::string_view text) {
  for (std::string& w : encoded_words(text, kPhraseWordLength)) tokens.push_back({std::move(w), true});
}

// The display name as phrase tokens (RFC 5322 §3.2.5), to be joined by single spaces.
std::vector<PhraseToken> phrase_tokens(std::string_view name) {
  const bool plain_ascii = std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7F; }) &&
                           name.find("=?") == std::string_view::npos;
  const std::vector<std::string_view> words = split_on_spaces(name);
  const bool single_spaced = std::none_of(words.begin(), words.end(), [](std::string_view w) { return w.empty(); });
  std::vector<PhraseToken> tokens;
  if (plain_ascii) {
    if (single_spaced && std::all_of(words.begin(), words.end(), is_atom)) {
      for (const std::string_view w : words) tokens.push_back({std::string(w), false});
      return tokens;
    }
    // RFC 5322 §3.2.4: inside quotes only DQUOTE and backslash need escaping.
    std::string quoted = "\"";
    for (const char c : name) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    quoted.push_back('"');
    tokens.push_back({std::move(quoted), false});
    return tokens;
  }
  // Runs of spaces, or spaces at either end, exist only inside an encoded-word: between words
  // they would be folding whitespace, which readers collapse.
  if (!single_spaced) {
    add_encoded(tokens, name);
    return tokens;
  }
  // Atoms stay readable and separate the encoded runs. A run of several words is one encoded
  // text including its spaces: the space between two adjacent encoded-words is dropped by
  // RFC 2047 §6.2 decoders, so it must be inside one of them.
  std::size_t i = 0;
  while (i < words.size()) {
    if (is_atom(words[i])) {
      tokens.push_back({std::string(words[i]), false});
      ++i;
      continue;
    }
    const char* run_begin = words[i].data();
    std::size_t j = i;
    while (j < words.size() && !is_atom(words[j])) ++j;
    const char* run_end = words[j - 1].data() + words[j - 1].size();
    add_encoded(tokens, std::string_view(run_begin, static_cast<std::size_t>(run_end - run_begin)));
    i = j;
  }
  return tokens;
}

// Appends space-separated tokens to a header field, folding before a token that would pass
// the line limit. The first token of the field never folds, so no line holds only the name.
class TokenWriter {
 public:
  TokenWriter(std::string& out, std::size_t line) : out_(out), line_(line) {}

  void token(std::string_view t, bool encoded) {
    const std::size_t limit = (encoded || line_has_encoded_) ? kEncodedLineLimit : kFoldAt;
    if (!first_ && line_ + 1 + t.size() > limit) {
      out_ += "\r\n";  // the space below becomes the continuation line's indent
      line_ = 0;
      line_has_encoded_ = false;
    }
    out_.push_back(' ');
    out_ += t;
    line_ += 1 + t.size();
    line_has_encoded_ = line_has_encoded_ || encoded;
    first_ = false;
  }

  void comma() {
    out_.push_back(',');
    ++line_;
  }

 private:
  std::string& out_;
  std::size_t line_;
  bool line_has_encoded_ = false;
  bool first_ = true;
};

}  // namespace

std::vector<std::string> encoded_words(std::string_view text, std::size_t max_length) {
  // 75 - len("=?UTF-8?B??=") = 63 characters of base64: 15 groups, 45 octets. A 4-octet
  // character needs 8 characters of base64, so 20 is the least that always makes progress.
  const std::size_t kMaxOctets = (std::max<std::size_t>(max_length, 20) - kWordOpen.size() - kWordClose.size()) / 4 * 3;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t take = 0;
    while (i + take < text.size()) {
      const std::size_t n = std::max<std::size_t>(utf8_char_length(text.substr(i + take)), 1);
      if (take > 0 && take + n > kMaxOctets) break;
      take += n;
    }
    std::string w(kWordOpen);
    append_base64(w, text.substr(i, take));
    w += kWordClose;
    words.push_back(std::move(w));
    i += take;
  }
  return words;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_unstructured_field(std::string& out, std::string_view name, std::string_view text) {
  out += name;
  out += ": ";
  if (needs_encoded_words(name, text)) {
    append_encoded_words(out, text, name.size() + 2);
  } else {
    append_folded_ascii(out, text, name.size() + 2);
  }
  out += "\r\n";
}

void append_address_list_field(std::string& out, std::string_view name, const std::vector<std::string>& addresses) {
  std::vector<NamedAddress> mailboxes;
  mailboxes.reserve(addresses.size());
  for (const std::string& a : addresses) mailboxes.push_back({a, {}});
  append_mailbox_list_field(out, name, mailboxes);
}

void append_mailbox_list_field(std::string& out, std::string_view name, std::span<const NamedAddress> mailboxes) {
  out += name;
  out += ':';
  TokenWriter w(out, name.size() + 1);
  for (std::size_t k = 0; k < mailboxes.size(); ++k) {
    const NamedAddress& m = mailboxes[k];
    if (k > 0) w.comma();
    // An address is at most 254 octets and a quoted name at most 2 * 256 + 2, so every line
    // stays far below 998 even when one token alone passes 78.
    if (m.name.empty()) {
      w.token(m.address, false);
      continue;
    }
    for (const PhraseToken& t : phrase_tokens(m.name)) w.token(t.text, t.encoded);
    w.token("<" + m.address + ">", false);
  }
  out += "\r\n";
}

}  // namespace ringpost::api
