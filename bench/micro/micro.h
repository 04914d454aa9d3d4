// Registration entry points of micro_bench, one per source file, and the inputs they share.
// Benchmarks are registered at run time (not with BENCHMARK()) so their names can carry the
// input's real size, e.g. BM_ReplyParse/single/bytes:37.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringpost::bench {

inline constexpr int64_t kNow = 1764100000;  // a fixed Unix time: rendering and signing are pure

void register_smtp();
void register_api();
void register_handoff();
void register_spool();
void register_rules();

// A message as api::render_message makes it (CRLF, the usual header fields, 76-column
// quoted-printable-looking lines, one line starting with '.'), `bytes` long in total.
std::string rendered_message(std::size_t bytes);

// `bytes` of plain text in lines of about 70 characters joined by '\n' (what an API client
// sends as "text"); with `utf8`, every line carries a few non-ASCII characters.
std::string plain_text(std::size_t bytes, bool utf8 = false);

}  // namespace ringpost::bench
