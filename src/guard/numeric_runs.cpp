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

// The first digit of the run holding the digit at `i`: digits join across
// one or two separators, the same rule run_from() follows forwards.
size_t run_first_digit(std::string_view t, size_t i) {
  for (;;) {
    while (i > 0 && digit(t[i - 1])) --i;
    if (i >= 2 && separator(t[i - 1]) && digit(t[i - 2]))
      i -= 2;
    else if (i >= 3 && separator(t[i - 1]) && separator(t[i - 2]) && digit(t[i - 3]))
      i -= 3;
    else
      return i;
  }
}

void every_run(std::string_view t, unsigned min_digits, std::vector<NumericRun>& out) {
  for (size_t i = 0; i < t.size();) {
    if (!digit(t[i])) {
      ++i;
      continue;
    }
    i = run_from(t, i, min_digits, out);
  }
}

}  // namespace


// A run worth reporting holds four digits (a chain of digits each joined
// to the one before), or has a capital in the 4 bytes before its first
// digit (two capitals, then maybe "+("). Block masks find the digits that
// end such a chain or follow such a capital; only their runs are walked
// byte by byte.
void numeric_runs(std::string_view t, unsigned min_digits, std::vector<NumericRun>& out) {
  if (min_digits < 4) return every_run(t, min_digits, out);
  uint64_t prev[5] = {0, 0, 0, 0, 0};  // digits, chain1, chain2, separators, capitals
  size_t settled = 0;                  // runs before this offset are done
  each_block(t, [&](size_t b, const ByteClasses& c) __attribute__((always_inline)) {
    uint64_t digits = c.digits, seps = c.separators;
    uint64_t sep1 = near_before(seps, prev[3], 1, 1), sep2 = near_before(seps, prev[3], 2, 2);
    // chainN: digits that end a chain of N+1 joined digits. Across the block
    // boundary the previous block's masks carry in (shifted down by 64).
    auto link = [&](uint64_t from, uint64_t prev_from) {
      return digits & (near_before(from, prev_from, 1, 1) |
                       (near_before(from, prev_from, 2, 2) & sep1) |
                       (near_before(from, prev_from, 3, 3) & sep1 & sep2));
    };
    uint64_t chain1 = link(digits, prev[0]);
    uint64_t chain2 = link(chain1, prev[1]);
    uint64_t chain3 = link(chain2, prev[2]);
    uint64_t worth = chain3 | (digits & near_before(c.capitals, prev[4], 1, 4));
    prev[0] = digits, prev[1] = chain1, prev[2] = chain2, prev[3] = seps, prev[4] = c.capitals;
    if (settled > b) worth &= settled - b >= kBlock ? 0 : ~uint64_t(0) << (settled - b);
    while (worth) {
      size_t i = b + unsigned(__builtin_ctzll(worth));
      settled = run_from(t, run_first_digit(t, i), min_digits, out);
      worth &= settled - b >= kBlock ? 0 : ~uint64_t(0) << (settled - b);
    }
  });
}

}  // namespace portcullis::guard
