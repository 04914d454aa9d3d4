// See body_hash.h. Written here rather than taken from libopendkim: its body hash lives inside
// one signing handle, so two signatures hash the body twice and nothing else can share the pass
// (docs/adr/0003-dkim-signs-with-openssl.md).
#include "dkim/body_hash.h"

#include "dkim/text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringpost::dkim {
namespace {

bool crlf_at(std::string_view s, std::size_t i, std::size_t end) {
  return i + 1 < end && s[i] == '\r' && s[i + 1] == '\n';
}

// Simple (§3.4.3): the body without its trailing CRLFs; a CRLF is hashed after it.
std::size_t simple_end(std::string_view b) {
  std::size_t e = b.size();
  while (e >= 2 && b[e - 2] == '\r' && b[e - 1] == '\n') e -= 2;
  return e;
}

// Relaxed (§3.4.4): the body up to its last character that survives canonicalization, i.e.
// without trailing lines that are empty once their WSP is gone and without the last line's
// own trailing WSP. Empty: the canonical body is empty.
std::size_t relaxed_end(std::string_view b) {
  std::size_t p = b.size();
  for (;;) {
    std::size_t q = p;
    while (q > 0 && is_wsp(b[q - 1])) --q;
    if (q >= 2 && b[q - 2] == '\r' && b[q - 1] == '\n') {
      p = q - 2;
      continue;
    }
    return q;
  }
}

// Where relaxed canonicalization changes something, found eight bytes at a time: a tab, or a
// space followed by a space, a tab or a CR. A lone space between words (the common case in
// text) is left alone, so text is scanned at word speed rather than stopping at every space.
// Hand-written (SWAR) because this scan is the whole cost of relaxed canonicalization beyond
// the hash, and a byte loop runs at a quarter of the speed.
inline uint64_t zero_bytes(uint64_t x) {  // 0x80 in exactly the bytes of x that are zero
  constexpr uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL;
  return ~(((x & lo7) + lo7) | x | lo7);
}
inline uint64_t bytes_equal(uint64_t w, unsigned char c) { return zero_bytes(w ^ (0x0101010101010101ULL * c)); }

bool interesting_at(std::string_view b, std::size_t k, std::size_t end) {
  if (b[k] == '\t') return true;
  if (b[k] != ' ' || k + 1 >= end) return false;
  const char n = b[k + 1];
  return n == ' ' || n == '\t' || n == '\r';
}

// The first interesting position in [i, limit), or limit; looks at most one byte past limit
// (never past end).
std::size_t next_interesting(std::string_view b, std::size_t i, std::size_t limit, std::size_t end) {
#if defined(__SSE2__)
  // The same test sixteen bytes at a time where SSE2 exists (every x86-64): twice the SWAR speed.
  const __m128i tab = _mm_set1_epi8('\t'), sp = _mm_set1_epi8(' '), cr = _mm_set1_epi8('\r');
  while (i + 16 <= limit && i + 17 <= end) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + i));
    const __m128i n = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + i + 1));
    const __m128i after = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(n, sp), _mm_cmpeq_epi8(n, tab)), _mm_cmpeq_epi8(n, cr));
    const int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, tab), _mm_and_si128(_mm_cmpeq_epi8(w, sp), after)));
    if (m) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(m)));
    i += 16;
  }
#endif
  while (i + 8 <= limit && i + 9 <= end) {
    uint64_t w, next;
    std::memcpy(&w, b.data() + i, 8);
    std::memcpy(&next, b.data() + i + 1, 8);  // byte k+1 under byte k
    const uint64_t after = bytes_equal(next, ' ') | bytes_equal(next, '\t') | bytes_equal(next, '\r');
    if (bytes_equal(w, '\t') | (bytes_equal(w, ' ') & after)) break;
    i += 8;
  }
  while (i < limit && !interesting_at(b, i, end)) ++i;
  return i;
}

// Relaxed canonicalization of b[0, end) fed to a hash as it goes: `from` is where the span not
// yet hashed starts, `at` how far the scan got. Runs the scan finds may reach past a block's
// limit (lookahead within b); the next call starts from there.
struct RelaxedScan {
  std::string_view b;
  std::size_t end;
  Sha256& h;
  std::size_t from = 0, at = 0;

  void feed(std::size_t limit) {
    limit = std::min(limit, end);
    while (at < limit) {
      const std::size_t i = next_interesting(b, at, limit, end);
      if (i >= limit) {
        at = limit;
        break;
      }
      std::size_t j = i;
      while (j < end && is_wsp(b[j])) ++j;
      if (crlf_at(b, j, end)) {  // WSP at the end of a line goes
        h.update(b.substr(from, i - from));
        from = j;
      } else if (j - i > 1 || b[i] == '\t') {  // a run becomes one SP
        h.update(b.substr(from, i - from));
        h.update(" ");
        from = j;
      }  // else: a lone SP before a bare CR stays as it is, inside the span
      at = j;
    }
  }

  void finish() {
    feed(end);
    h.update(b.substr(from, end - from));
    if (end > 0) h.update("\r\n");
  }
};

}  // namespace

BodyHashes BodyHasher::hash(std::string_view body, bool simple, bool relaxed,
                            const std::function<void(std::string_view)>& also) {
  const std::size_t s_end = simple ? simple_end(body) : 0;
  if (simple) simple_.reset();
  if (relaxed) relaxed_.reset();
  RelaxedScan scan{body, relaxed ? relaxed_end(body) : 0, relaxed_};
  for (std::size_t w0 = 0; w0 < body.size(); w0 += kBodyBlock) {
    const std::size_t w1 = std::min(body.size(), w0 + kBodyBlock);
    if (also) also(body.substr(w0, w1 - w0));
    if (simple && w0 < s_end) simple_.update(body.substr(w0, std::min(w1, s_end) - w0));
    if (relaxed) scan.feed(w1);
  }
  BodyHashes out;
  if (simple) {
    simple_.update("\r\n");  // an empty body is one CRLF (§3.4.3)
    out.simple = simple_.final();
  }
  if (relaxed) {
    scan.finish();
    out.relaxed = relaxed_.final();
  }
  return out;
}

}  // namespace ringpost::dkim
