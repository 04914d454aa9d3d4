// Runs tests/api/mime_check.py (Python's email package, policy.default) over a rendered
// message and returns what it saw. An independent reader: if Python decodes the subject, names,
// tree and attachment bytes back to what the request said, mail readers will too.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ringpost::api::testing {

struct PyAddress {
  std::string name, address;
  bool operator==(const PyAddress&) const = default;
};

struct PyLeaf {
  std::string content_type;
  std::optional<std::string> charset, cte, disposition, filename, name_param, content_id, text;
  std::string bytes;  // the decoded payload
};

struct PyView {
  std::string error;  // non-empty when Python could not be run or its output not parsed
  std::vector<std::string> defects;
  std::optional<std::string> subject, message_id, date, related_type;
  std::optional<std::vector<PyAddress>> from, to, cc, reply_to;
  bool bcc_present = false;
  std::string tree;  // "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf)"
  std::vector<PyLeaf> leaves;
};

PyView python_view(const std::string& message);

}  // namespace ringpost::api::testing
