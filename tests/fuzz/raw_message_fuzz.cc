// libFuzzer target: arbitrary bytes as a client's `raw` message through check_raw_message, and
// as a field value through address_list_domains (engine/api/raw_message.h). Checks the header's
// invariant on every accepted message, and that the verdict does not depend on the kind of line
// break (raw_message.h: CRLF, LF and CR are one rule), by checking to_crlf(input) as well. Any
// violation aborts. Clang only. Seeds: tests/data/fuzz/raw_message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "engine/api/ascii.h"
#include "engine/api/line_endings.h"
#include "engine/api/raw_message.h"

namespace {

using namespace ringpost::api;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "invariant violated: %s\n", what.c_str());
  std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// A domain as address_list_domains promises it: non-empty, lower-case, none of the
// characters that would end or split an address. A domain literal ("[ipv6:2001:db8::1]",
// RFC 5321 §4.1.3) may hold ':' and nothing else of them.
void check_domain(std::string_view d) {
  if (d.empty()) fail("empty domain");
  const bool literal = d.size() > 2 && d.front() == '[' && d.back() == ']';
  if (d.find_first_of(literal ? " \t<>,;\"" : " \t<>,;:\"") != std::string_view::npos)
    fail(fmt::format("domain {:?} has a delimiter", d));
  for (const char c : d)
    if (c >= 'A' && c <= 'Z') fail(fmt::format("domain {:?} is not lower-case", d));
}

void check_accepted(std::string_view raw, const RawMessageInfo& info) {
  if (info.fields.empty()) fail("accepted without header fields");
  std::size_t from = 0, header_end = 0;
  for (const RawHeaderField& f : info.fields) {
    if (!inside(f.name, raw) || !inside(f.value, raw)) fail("a field view points outside the input");
    if (f.name.empty()) fail("a field without a name");
    if (ascii_iequals(f.name, "From")) ++from;
    header_end = static_cast<std::size_t>(f.value.data() + f.value.size() - raw.data());
  }
  if (from != 1) fail(fmt::format("accepted with {} From fields", from));
  if (info.from_domains.empty()) fail("accepted without a From domain");
  for (const std::string& d : info.from_domains) check_domain(d);
  if (info.sender_domains.size() > 1) fail("more than one Sender domain");
  for (const std::string& d : info.sender_domains) check_domain(d);
  // header_8bit covers at least the fields' bytes (the section may be longer by its breaks).
  bool high = false;
  for (std::size_t k = 0; k < header_end; ++k) high = high || static_cast<unsigned char>(raw[k]) >= 0x80;
  if (high && !info.header_8bit) fail("non-ASCII header section without header_8bit");
  if (raw.find('\0') != std::string_view::npos) fail("accepted a NUL");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  if (auto domains = address_list_domains(raw)) {
    for (const std::string& d : *domains) check_domain(d);
  } else if (domains.error().empty()) {
    fail("address_list_domains failed without a reason");
  }

  const auto info = check_raw_message(raw);
  if (info) check_accepted(raw, *info);
  else if (info.error().empty()) fail("refused without a reason");

  const std::string crlf = to_crlf(raw);
  const auto again = check_raw_message(crlf);
  if (again) check_accepted(crlf, *again);
  if (info.has_value() != again.has_value()) {
    fail(fmt::format("line breaks changed the verdict: as given {}, as CRLF {}", info ? "ok" : info.error(),
                     again ? "ok" : again.error()));
  }
  if (info && (info->from_domains != again->from_domains || info->sender_domains != again->sender_domains ||
               info->header_8bit != again->header_8bit || info->fields.size() != again->fields.size())) {
    fail("line breaks changed the result");
  }
  if (info) {
    for (const RawHeaderField& f : info->fields) (void)address_list_domains(f.value);
  }
  return 0;
}
