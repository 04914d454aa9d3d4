// See python_email.h. The message goes through a temporary file (not a pipe) so Python reads
// exactly the bytes, and stdout comes back through popen.
#include "tests/api/python_email.h"

#include <simdjson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "tests/api/mail_test_util.h"

namespace ringpost::api::testing {
namespace {

namespace dom = simdjson::dom;

std::optional<std::string> opt_string(dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return std::string(s);
}

std::optional<std::string> member(dom::object o, std::string_view key) {
  dom::element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  return opt_string(e);
}

std::optional<std::vector<PyAddress>> address_list(dom::object o, std::string_view key) {
  dom::array arr;
  if (o.at_key(key).get_array().get(arr) != simdjson::SUCCESS) return std::nullopt;
  std::vector<PyAddress> out;
  for (dom::element a : arr) {
    dom::object ao = a.get_object().value();
    out.push_back({member(ao, "name").value_or(""), member(ao, "address").value_or("")});
  }
  return out;
}

}  // namespace

PyView python_view(const std::string& message) {
  PyView v;
  char path[] = "/tmp/ringpost-mime-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    v.error = "mkstemp failed";
    return v;
  }
  close(fd);
  {
    std::ofstream f(path, std::ios::binary);
    f.write(message.data(), static_cast<std::streamsize>(message.size()));
  }
  const std::string cmd = std::string("/usr/bin/python3 ") + RINGPOST_API_TEST_DIR + "/mime_check.py " + path + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[65536];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    if (status != 0) v.error = "python failed: " + out;
  } else {
    v.error = "popen failed";
  }
  unlink(path);
  if (!v.error.empty()) return v;

  dom::parser parser;
  dom::object root;
  if (parser.parse(out).get_object().get(root) != simdjson::SUCCESS) {
    v.error = "unparsable output: " + out;
    return v;
  }
  // Arrays held in locals: a range-for over value() of a temporary result would dangle.
  dom::array defects, leaves;
  if (root["defects"].get_array().get(defects) != simdjson::SUCCESS ||
      root["leaves"].get_array().get(leaves) != simdjson::SUCCESS) {
    v.error = "output lacks defects or leaves: " + out;
    return v;
  }
  for (dom::element d : defects) v.defects.emplace_back(d.get_string().value());
  v.subject = member(root, "subject");
  v.message_id = member(root, "message_id");
  v.date = member(root, "date");
  v.related_type = member(root, "related_type");
  v.from = address_list(root, "from");
  v.to = address_list(root, "to");
  v.cc = address_list(root, "cc");
  v.reply_to = address_list(root, "reply_to");
  v.bcc_present = root["bcc_present"].get_bool().value();
  v.tree = member(root, "tree").value_or("");
  for (dom::element e : leaves) {
    dom::object o = e.get_object().value();
    PyLeaf leaf;
    leaf.content_type = member(o, "content_type").value_or("");
    leaf.charset = member(o, "charset");
    leaf.cte = member(o, "cte");
    leaf.disposition = member(o, "disposition");
    leaf.filename = member(o, "filename");
    leaf.name_param = member(o, "name_param");
    leaf.content_id = member(o, "content_id");
    leaf.text = member(o, "text");
    leaf.bytes = base64_decode(member(o, "bytes_b64").value_or(""));
    v.leaves.push_back(std::move(leaf));
  }
  return v;
}

}  // namespace ringpost::api::testing
