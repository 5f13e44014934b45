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

// A run reaching these bits of its block may go on in the next one (its
// end depends on up to three bytes after its last digit).
inline constexpr uint64_t kRunBlockEnd = ~uint64_t(0) << (kBlock - 3);

class NumericRunScanner {
 public:
  NumericRunScanner(std::string_view text, unsigned min_digits, std::vector<NumericRun>& out)
      : t_(text), min_digits_(min_digits), out_(out) {}

  // A block's run bits, from its masks alone (no branches): digits, the
  // bytes in runs (digits and the separators joining two digit groups),
  // and marks: at least one bit inside every run that may qualify.
  struct Marked {
    uint64_t digits, in_run, marks;
  };
  Marked mark(const BlockMasks& m) const {
    const uint64_t d = m.digits;
    // One or two separators with a digit on each side: exact for bits whose
    // right-hand digit is inside the block (bits past its end read as 0).
    const uint64_t one = m.separators & (d << 1) & (d >> 1);
    const uint64_t two = (d << 1) & m.separators & (m.separators >> 1) & (d >> 2);
    const uint64_t joined = one | two | (two << 1);
    const uint64_t in_run = d | joined;
    const uint64_t starts = in_run & ~(in_run << 1);
    // A run of 4 or more digits holds a join or a group of 4; a run after
    // two capitals starts 1-3 bytes after them (runs starting in the first
    // 4 bytes may follow capitals of the block before); a run at the
    // block's end may go on. Below 4 digits every run counts.
    const uint64_t four = d & (d >> 1) & (d >> 2) & (d >> 3);
    const uint64_t pairs = m.capitals & (m.capitals << 1);  // bit i: bytes i-1, i capitals
    const uint64_t after_pair = (pairs << 1) | (pairs << 2) | (pairs << 3);
    const uint64_t marks = joined | four | (starts & (after_pair | 0xf)) | (in_run & kRunBlockEnd);
    return {d, in_run, min_digits_ < 4 ? in_run : marks};
  }
  // Reports the marked runs of the block at `offset`. Blocks come in text
  // order; blocks without marks may be left out.
  void walk(size_t offset, const Marked& marked);

 private:
  std::string_view t_;
  unsigned min_digits_;
  std::vector<NumericRun>& out_;
  size_t settled_ = 0;  // runs before this offset are done
};

}  // namespace portcullis::guard
