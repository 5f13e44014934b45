#include "guard/number_patterns.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace portcullis::guard {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// Up to `max` digits from i (greedy), bounded by `to`.
size_t digits(std::string_view t, size_t i, size_t to, size_t max) {
  size_t n = 0;
  while (i + n < to && n < max && digit(t[i + n])) ++n;
  return n;
}

// The ipv4 pattern anchored at p: greedy groups of 1-3 digits never give
// back a digit, since the byte after a shortened group is a digit, not '.'.
size_t ipv4_at(std::string_view t, size_t p, size_t to) {
  size_t i = p;
  for (int group = 0; group < 4; ++group) {
    if (group > 0) {
      if (i >= to || t[i] != '.') return 0;
      ++i;
    }
    size_t n = digits(t, i, to, 3);
    if (n == 0) return 0;
    i += n;
  }
  return i - p;
}

bool phone_separator(char c) { return c == ' ' || c == '.' || c == '-' || c == '/'; }

// The phone pattern anchored at p. Every part is greedy and optional but
// the digit groups and the first repetition; greedy choices fail only when
// no repetition follows the first group, and then RE2 gives back the first
// group's last digit as the repetition (possible when it has two or more).
size_t phone_at(std::string_view t, size_t p, size_t to) {
  auto has = [&](size_t i, char c) { return i < to && t[i] == c; };
  size_t i = p;
  if (has(i, '+')) ++i;
  if (has(i, '(')) ++i;
  size_t first = digits(t, i, to, 5);
  if (first == 0) return 0;
  i += first;
  if (has(i, ')')) ++i;
  int reps = 0;
  for (; reps < 6; ++reps) {
    size_t j = i;
    if (j < to && phone_separator(t[j])) ++j;
    if (has(j, '(')) ++j;
    size_t n = digits(t, j, to, 5);
    if (n == 0) break;
    j += n;
    if (has(j, ')')) ++j;
    i = j;
  }
  if (reps == 0 && first < 2) return 0;
  return i - p;
}

bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool iban_char(char c) { return upper(c) || digit(c); }

// The iban pattern anchored at p: an optional space is taken only before
// an IBAN character (else the repetition stops), greedy up to 32.
size_t iban_at(std::string_view t, size_t p, size_t to) {
  if (p + 4 > to || !upper(t[p]) || !upper(t[p + 1]) || !digit(t[p + 2]) || !digit(t[p + 3]))
    return 0;
  size_t i = p + 4;
  int reps = 0;
  for (; reps < 32; ++reps) {
    if (i < to && iban_char(t[i]))
      ++i;
    else if (i + 1 < to && t[i] == ' ' && iban_char(t[i + 1]))
      i += 2;
    else
      break;
  }
  return reps >= 11 ? i - p : 0;
}

// `at` is a lambda, not a function pointer, so that it inlines.
template <typename At>
bool first_match(std::string_view t, size_t from, size_t to, TextSpan& m, At at) {
  for (size_t p = from; p < to; ++p) {
    if (size_t n = at(t, p, to)) {
      m = {p, p + n};
      return true;
    }
  }
  return false;
}

}  // namespace

bool find_ssn(std::string_view t, size_t from, size_t to, TextSpan& m) {
  return first_match(t, from, to, m, [](std::string_view s, size_t p, size_t e) -> size_t {
    if (p + 11 > e) return 0;
    for (size_t k = 0; k < 11; ++k)
      if (k == 3 || k == 6 ? s[p + k] != '-' : !digit(s[p + k])) return 0;
    return 11;
  });
}

bool find_ipv4(std::string_view t, size_t from, size_t to, TextSpan& m) {
  return first_match(t, from, to, m, [](std::string_view s, size_t p, size_t e) { return ipv4_at(s, p, e); });
}

bool find_phone(std::string_view t, size_t from, size_t to, TextSpan& m) {
  return first_match(t, from, to, m, [](std::string_view s, size_t p, size_t e) { return phone_at(s, p, e); });
}

bool find_iban(std::string_view t, size_t from, size_t to, TextSpan& m) {
  return first_match(t, from, to, m,
                     [](std::string_view s, size_t p, size_t e) { return iban_at(s, p, e); });
}

// IBAN bytes ([A-Z0-9 ]) among p[0..63], as a mask (bit i: p[i]).
uint64_t iban_class_mask(const char* p) {
#if defined(__SSE2__)
  auto in_range = [](__m128i v, char lo, char hi) {
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo)), span = _mm_set1_epi8(char(hi - lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(d, span), d);
  };
  uint64_t m = 0;
  for (unsigned k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i in = _mm_or_si128(_mm_or_si128(in_range(v, 'A', 'Z'), in_range(v, '0', '9')),
                              _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    m |= uint64_t(unsigned(_mm_movemask_epi8(in))) << (16 * k);
  }
  return m;
#else
  uint64_t m = 0;
  for (unsigned i = 0; i < 64; ++i) m |= uint64_t(iban_char(p[i]) || p[i] == ' ') << i;
  return m;
#endif
}

// A match holds 15 bytes of [A-Z0-9 ] in a row (four, then eleven single
// characters with optional spaces), so only the first bytes of such
// stretches can start one; a 64-bit mask of each 64-byte chunk finds them.
// Every byte from where the search began up to the chunk's last byte
// outside the class is then settled whatever the window's end (no stretch
// through them reaches it): later windows skip that range.
bool IbanFinder::find(size_t from, size_t to, TextSpan& m) {
  size_t start = from >= ruled_from_ && from < ruled_to_ ? ruled_to_ : from;
  const size_t began = start;
  while (start < to) {
    size_t len = std::min<size_t>(to - start, 64);
    char buf[64];
    const char* p = t_.data() + start;
    if (t_.size() - start < 64) {  // do not read past the text
      std::memset(buf, 0, sizeof buf);
      std::memcpy(buf, p, t_.size() - start);
      p = buf;
    }
    uint64_t window = len == 64 ? ~uint64_t(0) : (uint64_t(1) << len) - 1;
    uint64_t in = iban_class_mask(p) & window;
    uint64_t run15 = in;  // bit i: bytes i..i+14 all in the class
    for (unsigned d : {1u, 2u, 4u, 7u}) run15 &= run15 >> d;
    for (; run15; run15 &= run15 - 1) {
      size_t q = start + unsigned(__builtin_ctzll(run15));
      if (size_t n = iban_at(t_, q, to)) {
        m = {q, q + n};
        return true;
      }
    }
    if (uint64_t out = ~in & window) {
      size_t settled = start + 64 - unsigned(__builtin_clzll(out));  // past the last such byte
      if (began >= ruled_from_ && began <= ruled_to_) {
        ruled_to_ = std::max(ruled_to_, settled);
      } else {
        ruled_from_ = began;
        ruled_to_ = settled;
      }
    }
    if (len < 64) break;
    start += 64 - 14;  // stretches may straddle the chunk boundary
    if (start >= ruled_from_ && start < ruled_to_) start = ruled_to_;
  }
  return false;
}

bool dotted_quad_shape(std::string_view s) {
  size_t n = ipv4_at(s, 0, s.size());
  return n != 0 && n == s.size();
}

}  // namespace portcullis::guard
