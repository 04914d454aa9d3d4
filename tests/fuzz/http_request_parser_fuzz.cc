// libFuzzer target: arbitrary client bytes through HttpRequestParser, fed the way Front::process
// does (erase `consumed`, feed the rest), whole and cut into 1-, 2-, 7- and 64-byte fragments
// and at two input-dependent points. Every cut must give the same event log (requests and the
// error), and each run must keep feed()'s contract; any violation aborts. Clang only.
// Seeds: tests/data/fuzz/http_request_parser (raw HTTP/1.x bytes, no framing of our own).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "engine/http/http_request_parser.h"

namespace {

using ringpost::engine::HttpRequest;
using ringpost::engine::HttpRequestParser;
using Status = HttpRequestParser::Status;

[[noreturn]] void fail(const std::string& what, std::string_view cut) {
  std::fprintf(stderr, "contract violated (%.*s): %s\n", static_cast<int>(cut.size()), cut.data(), what.c_str());
  std::abort();
}

std::string describe(const HttpRequest& r) {
  return fmt::format("{} {} ct={:?} auth={:?} key={:?} keep_alive={} body={:?}", r.method, r.target,
                     r.content_type, r.authorization, r.idempotency_key, r.keep_alive, r.body);
}

// One connection's worth of input, cut into `fragments` (the last size repeats; empty: whole).
// Returns one line per request, then the error if there is one; checks the per-call contract.
std::vector<std::string> run(std::string_view input, const std::vector<std::size_t>& fragments,
                             std::size_t max_body, std::string_view cut) {
  HttpRequestParser parser(max_body);
  std::vector<std::string> log;
  std::string buffered;
  std::size_t pos = 0, frag = 0;
  while (pos < input.size()) {
    std::size_t n = fragments.empty() ? input.size() : fragments[std::min(frag, fragments.size() - 1)];
    ++frag;
    n = std::min(n, input.size() - pos);
    buffered.append(input.substr(pos, n));
    pos += n;
    while (!buffered.empty()) {
      HttpRequestParser::Result r = parser.feed(buffered);
      if (r.consumed > buffered.size()) fail(fmt::format("consumed {} of {}", r.consumed, buffered.size()), cut);
      buffered.erase(0, r.consumed);
      if (r.status == Status::need_more) {
        // http-parser keeps all it is given; a remainder here would never be fed again.
        if (!buffered.empty()) fail(fmt::format("need_more left {} bytes", buffered.size()), cut);
        (void)parser.take_continue();  // as the front does; whether it fires depends on the cut
        break;
      }
      if (r.status == Status::error) {
        if (r.http_status != 400 && r.http_status != 413) fail(fmt::format("error status {}", r.http_status), cut);
        if (r.error_code.empty() || r.error_message.empty()) fail("error without code or message", cut);
        // Sticky: the front answers and closes, but a second feed must not resume parsing.
        if (parser.feed("GET / HTTP/1.1\r\n\r\n").status != Status::error) fail("error not sticky", cut);
        if (r.error_code != "bad_request" && r.error_code != "duplicate_header" && r.error_code != "body_too_large")
          fail(fmt::format("unknown error code {}", r.error_code), cut);
        // The status, not the code: which of two faults in one header line is seen first may
        // depend on the cut. "Authorization: a" then "authorization: b<NUL>" whole is a bad
        // byte (http-parser checks the value before handing it over); byte by byte, the first
        // piece of the second value arrives before the NUL and is a duplicate. Both are 400.
        log.push_back(fmt::format("error {}", r.http_status));
        return log;
      }
      HttpRequest req = parser.take();
      if (req.method.empty()) fail("request without a method", cut);
      if (req.body.size() > max_body) fail(fmt::format("body of {} over the limit {}", req.body.size(), max_body), cut);
      log.push_back(describe(req));
    }
  }
  return log;
}

void check_cuts(std::string_view input, std::size_t max_body) {
  const std::vector<std::string> whole = run(input, {}, max_body, "whole");
  auto same = [&](const std::vector<std::size_t>& fragments, std::string_view cut) {
    const std::vector<std::string> got = run(input, fragments, max_body, cut);
    if (got == whole) return;
    std::string diff = fmt::format("max_body {}, whole gave {} events, this cut {}:", max_body, whole.size(), got.size());
    for (std::size_t i = 0; i < std::max(whole.size(), got.size()); ++i) {
      diff += fmt::format("\n  [{}] whole: {}\n  [{}] cut:   {}", i, i < whole.size() ? whole[i] : "-", i,
                          i < got.size() ? got[i] : "-");
    }
    fail(diff, cut);
  };
  for (std::size_t frag : {1, 2, 7, 64}) same({frag}, fmt::format("{}-byte fragments", frag));
  if (input.size() > 2) {
    // Two cuts the fuzzer can move by changing the first bytes: mid-header, mid-body, ...
    const std::size_t a = 1 + static_cast<unsigned char>(input[0]) % (input.size() - 1);
    const std::size_t b = 1 + (static_cast<unsigned char>(input[1]) * 7) % (input.size() - 1);
    same({a, input.size()}, fmt::format("cut at {}", a));
    same({b, input.size()}, fmt::format("cut at {}", b));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_cuts(input, 64 * 1024);  // the front's order of magnitude for small requests
  check_cuts(input, 32);         // small enough that chunked and Content-Length bodies cross it
  return 0;
}
