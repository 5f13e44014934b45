#include "guard/numeric_runs.h"

#include "guard/byte_blocks.h"

namespace portcullis::guard {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool separator(char c) {
  return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
}

bool capital(char c) { return c >= 'A' && c <= 'Z'; }

// The run whose first digit is at `i`: appended when it qualifies; returns
// where it ends.
size_t run_from(std::string_view t, size_t i, unsigned min_digits, std::vector<NumericRun>& out) {
  size_t start = i;
  if (start > 0 && (t[start - 1] == '+' || t[start - 1] == '(')) --start;
  if (start > 0 && t[start - 1] == '+' && t[start] == '(') --start;
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
  bool after_capitals = start >= 2 && capital(t[start - 1]) && capital(t[start - 2]);
  if (digits >= min_digits || after_capitals) out.push_back({start, j, digits});
  return j;
}

}  // namespace

// The digits of each 64-byte block as one mask (byte_blocks.h): each run
// starts at the first digit past the previous run's end.
void numeric_runs(std::string_view t, unsigned min_digits, std::vector<NumericRun>& out) {
  size_t settled = 0;  // runs before this offset are done
  each_block(t, [&](size_t b, const char* block) {
    uint64_t digits = range_mask(block, '0', '9');
    if (settled > b) digits &= settled - b >= kBlock ? 0 : ~uint64_t(0) << (settled - b);
    while (digits) {
      settled = run_from(t, b + unsigned(__builtin_ctzll(digits)), min_digits, out);
      digits &= settled - b >= kBlock ? 0 : ~uint64_t(0) << (settled - b);
    }
  });
}

}  // namespace portcullis::guard
