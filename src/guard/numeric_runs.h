// Numeric runs: the stretches of text where number-shaped PII (cards, SSNs,
// IPv4 addresses, phone numbers, IBAN digits) can be. A run is digits joined
// by at most two separators from " .-/()" at a time, plus a '+' or '(' just
// before its first digit. Character-class anchors like these are the slow
// case for Hyperscan (about 1 GB/s each, 350 MB/s for five together); this
// scanner reads 64-byte block masks (byte_blocks.h), rules out from the
// masks alone the runs that cannot qualify (most numbers in ordinary text:
// "200", "9.99", "v1") and walks only the others byte by byte.
//
// numeric_runs() is a pure function (any thread). NumericRunScanner is the
// same walk fed block by block by a caller that reads the text once for
// several scanners (pii.cpp); one instance per scan, one thread.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

#include "guard/byte_blocks.h"

namespace portcullis::guard {

struct NumericRun {
  size_t start, end;  // [start, end) in the text
  unsigned digits;    // how many digits it holds
};

// Appends, in text order, every run holding at least `min_digits` digits,
// and every run right after two capital letters (an IBAN's check digits:
// "GB82WEST…" has only "82" before the letters).
void numeric_runs(std::string_view text, unsigned min_digits, std::vector<NumericRun>& out);

class NumericRunScanner {
 public:
  NumericRunScanner(std::string_view text, unsigned min_digits, std::vector<NumericRun>& out)
      : t_(text), min_digits_(min_digits), out_(out) {}
  // Every block of the text in order, as each_block gives them, with its masks.
  void block(size_t offset, const BlockMasks& masks);

 private:
  std::string_view t_;
  unsigned min_digits_;
  std::vector<NumericRun>& out_;
  size_t settled_ = 0;  // runs before this offset are done
};

}  // namespace portcullis::guard
