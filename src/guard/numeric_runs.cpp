#include "guard/numeric_runs.h"

namespace portcullis::guard {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool separator(char c) {
  return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
}

bool capital(char c) { return c >= 'A' && c <= 'Z'; }

// Where the run whose first digit is at `i` starts: a '+', '(' or "+("
// just before the digit belongs to it.
size_t run_start(std::string_view t, size_t i) {
  size_t start = i;
  if (start > 0 && (t[start - 1] == '+' || t[start - 1] == '(')) --start;
  if (start > 0 && t[start - 1] == '+' && t[start] == '(') --start;
  return start;
}

bool after_capitals(std::string_view t, size_t start) {
  return start >= 2 && capital(t[start - 1]) && capital(t[start - 2]);
}

// The run whose first digit is at `i`, walked byte by byte: appended when
// it qualifies; returns where it ends.
size_t run_from(std::string_view t, size_t i, unsigned min_digits, std::vector<NumericRun>& out) {
  size_t start = run_start(t, i);
  unsigned digits = 0;
  size_t j = i;
  for (;;) {
    while (j < t.size() && digit(t[j])) ++j, ++digits;
    size_t k = j;
    while (k < t.size() && k - j < 2 && separator(t[k])) ++k;
    if (k > j && k < t.size() && digit(t[k])) {
      j = k;
      continue;
    }
    if (j < t.size() && t[j] == ')') ++j;  // "(650)" closing a group
    break;
  }
  if (digits >= min_digits || after_capitals(t, start)) out.push_back({start, j, digits});
  return j;
}

// Bytes that join two digit groups of one run: one or two separators with
// a digit on each side. Exact for bits whose right-hand digit is inside the
// block (bits past the block's end read as non-digits).
uint64_t joins(uint64_t digits, uint64_t seps) {
  uint64_t one = seps & (digits << 1) & (digits >> 1);
  uint64_t two = (digits << 1) & seps & (seps >> 1) & (digits >> 2);  // the first of the pair
  return one | two | (two << 1);
}

// Set bits of `m` (SWAR: the build targets x86-64 without POPCNT).
unsigned bit_count(uint64_t m) {
  m = m - ((m >> 1) & 0x5555555555555555ULL);
  m = (m & 0x3333333333333333ULL) + ((m >> 2) & 0x3333333333333333ULL);
  m = (m + (m >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return unsigned((m * 0x0101010101010101ULL) >> 56);
}

// A run reaching these bits of its block may go on in the next one (its
// end depends on up to three bytes after its last digit).
constexpr uint64_t kBlockEnd = ~uint64_t(0) << (kBlock - 3);

// Bits marking every run that may qualify (min_digits >= 4), at least one
// inside each: a run of 4 or more digits has two digit groups (a join) or
// a group of 4; a run after two capitals starts 1-3 bytes after them (runs
// starting in the first 4 bytes may follow capitals of the block before);
// a run at the block's end may go on. A run with no marked bit has at most
// 3 digits, is not after two capitals and ends inside the block.
uint64_t maybe_qualifying(uint64_t digits, uint64_t in_run, uint64_t joined, uint64_t capitals) {
  uint64_t starts = in_run & ~(in_run << 1);
  uint64_t four = digits & (digits >> 1) & (digits >> 2) & (digits >> 3);
  uint64_t pairs = capitals & (capitals << 1);  // bit i: bytes i-1 and i capitals
  uint64_t after_pair = (pairs << 1) | (pairs << 2) | (pairs << 3);
  return joined | four | (starts & (after_pair | 0xf)) | (in_run & kBlockEnd);
}

}  // namespace

// Each run starts at the first digit past the previous run's end. With
// min_digits >= 4 only the runs holding a mark (maybe_qualifying) are
// looked at; each other run is short and alone, and not reported. A marked
// run that ends inside its block is read off the masks: it is the stretch
// of digits and joins around the mark (the bytes that decide where it ends
// are in the block), its digits are the mask's; one that may go on into
// the next block is walked byte by byte (run_from). Below 4 every run is
// walked.
void NumericRunScanner::block(size_t b, const BlockMasks& m) {
  auto unsettled = [&] {
    return settled_ <= b ? ~uint64_t(0)
           : settled_ - b >= kBlock ? 0
                                    : ~uint64_t(0) << (settled_ - b);
  };
  const uint64_t digits = m.digits;
  if (!(digits & unsettled())) return;
  if (min_digits_ < 4) {
    for (uint64_t left = digits & unsettled(); left; left = digits & unsettled())
      settled_ = run_from(t_, b + unsigned(__builtin_ctzll(left)), min_digits_, out_);
    return;
  }
  const uint64_t joined = joins(digits, m.separators);
  const uint64_t in_run = digits | joined;
  const uint64_t starts = in_run & ~(in_run << 1);
  uint64_t marks = maybe_qualifying(digits, in_run, joined, m.capitals);
  for (marks &= unsettled(); marks; marks &= unsettled()) {
    unsigned k = unsigned(__builtin_ctzll(marks));
    uint64_t upto = starts & (k == 63 ? ~uint64_t(0) : (uint64_t(2) << k) - 1);  // never 0
    unsigned s = 63 - unsigned(__builtin_clzll(upto));
    uint64_t past = ~(in_run >> s);  // 0 only when the stretch reaches the block's end
    unsigned e = past ? s + unsigned(__builtin_ctzll(past)) : kBlock;
    if (b + s < settled_ || (uint64_t(1) << (e - 1) & kBlockEnd)) {
      size_t first = b + unsigned(__builtin_ctzll(digits & unsettled()));
      settled_ = run_from(t_, b + s < settled_ ? first : b + s, min_digits_, out_);
      continue;
    }
    unsigned n = bit_count(digits & ((uint64_t(1) << e) - (uint64_t(1) << s)));
    size_t start = run_start(t_, b + s), end = b + e;
    settled_ = end;
    if (n >= min_digits_ || after_capitals(t_, start)) {
      if (end < t_.size() && t_[end] == ')') ++end;  // "(650)" closing a group
      out_.push_back({start, end, n});
      settled_ = end;
    }
  }
}

void numeric_runs(std::string_view t, unsigned min_digits, std::vector<NumericRun>& out) {
  NumericRunScanner scanner(t, min_digits, out);
  each_block_masks(t, [&](size_t b, const BlockMasks& m) { scanner.block(b, m); });
}

}  // namespace portcullis::guard
