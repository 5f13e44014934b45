#include "guard/pii_blocks.h"

#include "guard/byte_blocks.h"
#include "guard/ipv6_spans.h"

namespace portcullis::guard {

void pii_block_spans(std::string_view t, unsigned min_digits, bool runs, bool ipv6, bool emails,
                     PiiBlockSpans& out) {
  out.runs.clear();
  out.ipv6.clear();
  out.emails.clear();
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
  });
}

}  // namespace portcullis::guard
