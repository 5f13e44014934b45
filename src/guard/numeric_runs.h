// Numeric runs: the stretches of text where number-shaped PII (cards, SSNs,
// IPv4 addresses, phone numbers, IBAN digits) can be. A run is digits joined
// by at most two separators from " .-/()" at a time, plus a '+' or '(' just
// before its first digit. Character-class anchors like these are the slow
// case for Hyperscan (about 1 GB/s each, 350 MB/s for five together); this
// one pass finds digits through 64-byte block masks (byte_blocks.h) and
// walks each run once. Pure function; any thread.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace portcullis::guard {

struct NumericRun {
  size_t start, end;  // [start, end) in the text
  unsigned digits;    // how many digits it holds
};

// Appends, in text order, every run holding at least `min_digits` digits,
// and every run right after two capital letters (an IBAN's check digits:
// "GB82WEST…" has only "82" before the letters).
void numeric_runs(std::string_view text, unsigned min_digits, std::vector<NumericRun>& out);

}  // namespace portcullis::guard
