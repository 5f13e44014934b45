#include "guard/numeric_runs.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace portcullis::guard {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool separator(char c) {
  return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
}

// The first digit at or after `i`, or text.size().
size_t next_digit(std::string_view t, size_t i) {
#if defined(__SSE2__)
  const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
  while (i + 16 <= t.size()) {
    __m128i v = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i)), zero);
    // Unsigned v <= 9 exactly for '0'..'9'.
    unsigned mask = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, nine), v)));
    if (mask) return i + unsigned(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < t.size() && !digit(t[i])) ++i;
  return i;
}

}  // namespace

void numeric_runs(std::string_view t, unsigned min_digits, std::vector<NumericRun>& out) {
  size_t i = 0;
  while ((i = next_digit(t, i)) < t.size()) {
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
    bool after_capitals = start >= 2 && t[start - 1] >= 'A' && t[start - 1] <= 'Z' &&
                          t[start - 2] >= 'A' && t[start - 2] <= 'Z';
    if (digits >= min_digits || after_capitals) out.push_back({start, j, digits});
    i = j;
  }
}

}  // namespace portcullis::guard
