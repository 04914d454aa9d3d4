// Maildir reading and header lookup for ReceivedMessage (RFC 5322 §2.2: header fields end at
// the first empty line; a line starting with white space continues the previous field).
#include "tests/interop/maildir.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ringpost::interop {
namespace {

namespace fs = std::filesystem;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Offset of the first character of the body, or content.size() when there is no blank line.
std::size_t body_offset(std::string_view content) {
  if (content.starts_with("\n")) return 1;
  if (content.starts_with("\r\n")) return 2;
  for (std::size_t at = content.find('\n'); at != std::string_view::npos; at = content.find('\n', at + 1)) {
    std::string_view rest = content.substr(at + 1);
    if (rest.starts_with("\n")) return at + 2;
    if (rest.starts_with("\r\n")) return at + 3;
  }
  return content.size();
}

// Bare address of a Delivered-To / Envelope-to value: "<a@b>" -> "a@b".
std::string bare(std::string v) {
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return v;
}

std::vector<fs::path> maildir_files(const fs::path& maildir) {
  std::vector<fs::path> files;
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (fs::directory_iterator it(maildir / sub, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
  }
  return files;
}

}  // namespace

std::string ReceivedMessage::header(std::string_view name) const {
  std::string_view head = std::string_view(content).substr(0, body_offset(content));
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || line.empty() || line[0] == ' ' || line[0] == '\t') continue;
    if (!iequals(trim(line.substr(0, colon)), name)) continue;
    std::string value(line.substr(colon + 1));
    // Unfold continuation lines into the value.
    while (pos < head.size() && (head[pos] == ' ' || head[pos] == '\t')) {
      std::size_t next = head.find('\n', pos);
      if (next == std::string_view::npos) next = head.size();
      value += ' ';
      value += trim(head.substr(pos, next - pos));
      pos = next + 1;
    }
    return trim(value);
  }
  return {};
}

std::string ReceivedMessage::body() const { return content.substr(body_offset(content)); }

int count_maildir(const fs::path& maildir) { return static_cast<int>(maildir_files(maildir).size()); }

std::vector<ReceivedMessage> read_maildir(const fs::path& maildir) {
  struct Entry {
    fs::file_time_type mtime;
    fs::path path;
  };
  std::vector<Entry> entries;
  for (auto& p : maildir_files(maildir)) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    entries.push_back({ec ? fs::file_time_type{} : t, p});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.path < b.path;
  });
  std::vector<ReceivedMessage> out;
  for (auto& e : entries) {
    std::ifstream in(e.path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    ReceivedMessage m{e.path, {}, ss.str()};
    // Postfix virtual(8) and OpenSMTPD prepend Delivered-To; Exim's envelope_to_add writes
    // Envelope-to (one recipient per file, since appendfile delivers one address at a time).
    m.recipient = bare(m.header("Delivered-To"));
    if (m.recipient.empty()) m.recipient = bare(m.header("Envelope-to"));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace ringpost::interop
