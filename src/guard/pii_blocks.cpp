#include "guard/pii_blocks.h"

#include "guard/byte_blocks.h"
#include "guard/ipv6_spans.h"

namespace portcullis::guard {

namespace {

// `word` (lower case) at `from`, any case (folding with 0x20 also lets a
// few non-letters through: a superset is all the caller needs).
bool folded_at(std::string_view t, size_t from, std::string_view word) {
  if (from > t.size() || t.size() - from < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k)
    if (char(t[from + k] | 0x20) != word[k]) return false;
  return true;
}

// The 'b's next to the bytes a keyword puts there ("ob", ".b", "bi", "bo"),
// and those at the block's edges (their neighbour is in another block).
uint64_t keyword_hints(const BlockMasks& m) {
  const uint64_t edges = uint64_t(1) | uint64_t(1) << 63;
  return m.bs & ((m.os << 1) | (m.dots << 1) | (m.is >> 1) | (m.os >> 1) | edges);
}

}  // namespace

bool dob_keyword_at(std::string_view t, size_t at) {
  return (at >= 2 && folded_at(t, at - 2, "dob")) || (at >= 4 && folded_at(t, at - 4, "d.o.b")) ||
         folded_at(t, at, "birth") || folded_at(t, at, "born");
}

void pii_block_spans(std::string_view t, unsigned min_digits, bool runs, bool ipv6, bool emails,
                     PiiBlockSpans& out) {
  out.runs.clear();
  out.ipv6.clear();
  out.emails.clear();
  out.dob_keyword = false;
  NumericRunScanner run_scanner(t, min_digits, out.runs);
  Ipv6Scanner ipv6_scanner(t, out.ipv6);
  EmailScanner email_scanner(t, out.emails);
  each_block_masks(t, [&](size_t b, const BlockMasks& m) {
    // The marks first, without branches; then the (rare) walks.
    const auto marked = run_scanner.mark(m);
    const uint64_t worth = ipv6_scanner.mark(m.colons);
    if (runs && marked.marks) run_scanner.walk(b, marked);
    if (ipv6 && worth) ipv6_scanner.walk(b, worth);
    if (emails && m.ats) email_scanner.walk(b, m.ats);
    for (uint64_t h = out.dob_keyword ? 0 : keyword_hints(m); h && !out.dob_keyword; h &= h - 1)
      out.dob_keyword = dob_keyword_at(t, b + unsigned(__builtin_ctzll(h)));
  });
}

}  // namespace portcullis::guard
