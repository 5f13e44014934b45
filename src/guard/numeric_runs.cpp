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

// Set bits of `m` (SWAR: the build targets x86-64 without POPCNT).
unsigned bit_count(uint64_t m) {
  m = m - ((m >> 1) & 0x5555555555555555ULL);
  m = (m & 0x3333333333333333ULL) + ((m >> 2) & 0x3333333333333333ULL);
  m = (m + (m >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return unsigned((m * 0x0101010101010101ULL) >> 56);
}

}  // namespace

// Each run starts at the first digit past the previous run's end; only
// the runs holding a mark are looked at (each other run is short and alone,
// and not reported). A marked run that ends inside its block is read off
// the masks: it is the stretch of digits and joins around the mark (the
// bytes that decide where it ends are in the block), its digits are the
// mask's. One that may go on into the next block is walked byte by byte
// (run_from).
void NumericRunScanner::walk(size_t b, const Marked& m) {
  auto unsettled = [&] {
    return settled_ <= b ? ~uint64_t(0)
           : settled_ - b >= kBlock ? 0
                                    : ~uint64_t(0) << (settled_ - b);
  };
  const uint64_t starts = m.in_run & ~(m.in_run << 1);
  for (uint64_t marks = m.marks & unsettled(); marks; marks &= unsettled()) {
    unsigned k = unsigned(__builtin_ctzll(marks));
    uint64_t upto = starts & (k == 63 ? ~uint64_t(0) : (uint64_t(2) << k) - 1);  // never 0
    unsigned s = 63 - unsigned(__builtin_clzll(upto));
    uint64_t past = ~(m.in_run >> s);  // 0 only when the stretch reaches the block's end
    unsigned e = past ? s + unsigned(__builtin_ctzll(past)) : kBlock;
    if (b + s < settled_ || (uint64_t(1) << (e - 1) & kRunBlockEnd)) {
      size_t first = b + unsigned(__builtin_ctzll(m.digits & unsettled()));
      settled_ = run_from(t_, b + s < settled_ ? first : b + s, min_digits_, out_);
      continue;
    }
    unsigned n = bit_count(m.digits & ((uint64_t(1) << e) - (uint64_t(1) << s)));
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
  each_block_masks(t, [&](size_t b, const BlockMasks& m) {
    auto marked = scanner.mark(m);
    if (marked.marks) scanner.walk(b, marked);
  });
}

}  // namespace portcullis::guard
