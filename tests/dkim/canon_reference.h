// RFC 6376 §3.4.3/§3.4.4 body canonicalization written the obvious way (line by line, whole
// strings, no blocks, no scanning tricks): the reference that dkim/body_hash.cc is compared with
// by tests/dkim/body_hash_test.cc and the dkim_canon_fuzz target. Header-only; pure.
#pragma once

#include <string>
#include <vector>

namespace ringpost::dkim_test {

// Lines split at CRLF; a last piece without CRLF is a line too (the DATA writer ends it).
inline std::vector<std::string> lines_of(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t e = body.find("\r\n", pos);
    if (e == std::string::npos) e = body.size();
    out.push_back(body.substr(pos, e - pos));
    pos = e + 2;
  }
  return out;
}

inline std::string reference_simple(const std::string& body) {
  std::vector<std::string> lines = lines_of(body);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();  // trailing empty lines go
  std::string out;
  for (const std::string& l : lines) out += l + "\r\n";
  return out.empty() ? "\r\n" : out;  // an empty body is one CRLF
}

inline std::string reference_relaxed(const std::string& body) {
  std::vector<std::string> lines;
  for (const std::string& l : lines_of(body)) {
    std::string c;
    for (char ch : l) {
      if (ch == ' ' || ch == '\t') {
        if (c.empty() || c.back() != ' ') c += ' ';  // a run of WSP is one SP...
        else continue;
      } else {
        c += ch;
      }
    }
    while (!c.empty() && c.back() == ' ') c.pop_back();  // ...and none at the end of a line
    lines.push_back(c);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (const std::string& l : lines) out += l + "\r\n";
  return out;  // an empty body stays empty
}

}  // namespace ringpost::dkim_test
