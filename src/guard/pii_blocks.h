// One read of the text for the PII detector's hand scanners: numeric runs
// (numeric_runs.h), IPv6 addresses (ipv6_spans.h) and emails
// (email_spans.h) take their byte classes from the same 64-byte block
// masks (byte_blocks.h), so a scan loads the text once for all of them
// instead of once each; on a 1 MB text that no longer sits in L2 next to
// the other detectors' tables, each extra pass was a stream from L3. Each
// scanner's answer is what its own function (numeric_runs, ipv6_spans,
// email_spans) returns. Pure function; any thread.
#pragma once
#include <string_view>
#include <vector>

#include "guard/email_spans.h"
#include "guard/numeric_runs.h"

namespace portcullis::guard {

struct PiiBlockSpans {
  std::vector<NumericRun> runs;  // numeric_runs(text, min_digits)
  std::vector<TextSpan> ipv6;    // ipv6_spans(text)
  std::vector<TextSpan> emails;  // email_spans(text)
  // The text holds "dob", "d.o.b", "birth" or "born" in any case: a
  // superset of the date-of-birth anchors (pii.cpp), which cannot match
  // text without these.
  bool dob_keyword = false;
};

// A date-of-birth keyword with its 'b' at `at`, as dob_keyword counts them.
bool dob_keyword_at(std::string_view text, size_t at);

// Clears `out`, then fills the lists whose flag is set (the others stay empty).
void pii_block_spans(std::string_view text, unsigned min_digits, bool runs, bool ipv6, bool emails,
                     PiiBlockSpans& out);

}  // namespace portcullis::guard
