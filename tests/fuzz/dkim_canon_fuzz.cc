// libFuzzer target: arbitrary bytes as a message body through dkim::BodyHasher (both
// canonicalizations, the SSE2/SWAR scan and the block cuts), compared with the line-by-line
// reference (tests/dkim/canon_reference.h), and as a whole message through split_message,
// select_headers and relaxed header canonicalization, checking what RFC 6376 §3.4.2 promises of
// its output. A client's raw message reaches this code as it is, so it must hold for any bytes.
// Any violation aborts. Clang only. Seeds: tests/data/fuzz/dkim_canon.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dkim/body_hash.h"
#include "dkim/header_canon.h"
#include "dkim/message_view.h"
#include "dkim/sha256.h"
#include "tests/dkim/canon_reference.h"

namespace {

using namespace ringpost;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check_body(std::string_view body) {
  static dkim::BodyHasher hasher;
  std::string seen;
  const dkim::BodyHashes h = hasher.hash(body, true, true, [&](std::string_view block) { seen += block; });
  if (seen != body) fail("the blocks handed to `also` are not the body");
  const std::string b(body);
  if (*h.simple != dkim::sha256(dkim_test::reference_simple(b))) fail("simple body hash differs from the reference");
  if (*h.relaxed != dkim::sha256(dkim_test::reference_relaxed(b))) fail("relaxed body hash differs from the reference");
}

void check_header(std::string_view message) {
  auto view = dkim::split_message(message);
  if (!view) return;
  for (std::string_view f : view->fields) {
    std::string out;
    dkim::append_canonical_field(out, f, dkim::Canon::relaxed);
    if (out.size() < 3 || !out.ends_with("\r\n")) fail("a relaxed field does not end with CRLF");
    const std::string_view all(out.data(), out.size() - 2);
    const std::size_t colon = all.find(':');
    if (colon == std::string_view::npos) fail("a relaxed field lost its colon");
    // The name is kept as it is apart from case and WSP before the colon (a name with WSP
    // inside is not RFC 5322, and dkimpy keeps it too); the value is fully normalized.
    const std::string_view name = all.substr(0, colon), v = all.substr(colon + 1);
    if (name.find_first_of("\r\n") != std::string_view::npos) fail("a relaxed field name holds a line break");
    if (name.ends_with(' ') || name.ends_with('\t')) fail("WSP before the colon");
    for (char c : name)
      if (c >= 'A' && c <= 'Z') fail("a relaxed field name is not lower case");
    if (v.find_first_of("\r\n\t") != std::string_view::npos) fail("a relaxed field value keeps a CR, LF or tab");
    if (v.find("  ") != std::string_view::npos || v.ends_with(' ')) fail("a relaxed field keeps a WSP run or trailing WSP");
    if (v.starts_with(' ')) fail("WSP after the colon");
    std::string simple;
    dkim::append_canonical_field(simple, f, dkim::Canon::simple);
    if (simple != std::string(f) + "\r\n") fail("simple canonicalization changed a field");
  }
  dkim::SignEntry e;
  e.headers = dkim::default_signed_headers();
  e.oversign = dkim::default_oversigned_headers();
  const dkim::HeaderSelection sel = dkim::select_headers(*view, e);
  if (sel.fields.size() > sel.names.size()) fail("more fields hashed than named in h=");
  for (std::string_view f : sel.fields) {
    bool found = false;
    for (std::string_view g : view->fields) found = found || (g.data() == f.data() && g.size() == f.size());
    if (!found) fail("a selected field is not one of the message's");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_body(input);
  check_header(input);
  return 0;
}
