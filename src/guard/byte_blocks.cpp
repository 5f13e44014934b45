#include "guard/byte_blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace portcullis::guard {

namespace {

ByteClasses classify_portable(const char* p) {
  ByteClasses m{0, 0, 0, 0};
  for (unsigned i = 0; i < kBlock; ++i) {
    char c = p[i];
    uint64_t bit = uint64_t(1) << i;
    if (c >= '0' && c <= '9') m.digits |= bit;
    if (c >= 'A' && c <= 'Z') m.capitals |= bit;
    if (c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')') m.separators |= bit;
    if (c == ':') m.colons |= bit;
  }
  return m;
}

#if defined(__x86_64__)

// Bytes in [lo, hi] of 16, as a 16-bit mask: unsigned (c - lo) <= hi - lo.
inline unsigned in_range(__m128i v, char lo, char hi) {
  __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
  __m128i span = _mm_set1_epi8(char(hi - lo));
  return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, span), d)));
}

ByteClasses classify_sse2(const char* p) {
  ByteClasses m{0, 0, 0, 0};
  for (unsigned k = 0; k < kBlock / 16; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    unsigned shift = 16 * k;
    m.digits |= uint64_t(in_range(v, '0', '9')) << shift;
    m.capitals |= uint64_t(in_range(v, 'A', 'Z')) << shift;
    unsigned seps = in_range(v, '(', ')') | in_range(v, '-', '/') |
                    unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
    m.separators |= uint64_t(seps) << shift;
    m.colons |= uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':'))))) << shift;
  }
  return m;
}

#define PC_AVX512 __attribute__((target("avx512f,avx512bw")))

PC_AVX512 inline uint64_t in_range(__m512i v, char lo, char hi) {
  return _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(lo)),
                                _mm512_set1_epi8(char(hi - lo)));
}

PC_AVX512 ByteClasses classify_avx512(const char* p) {
  __m512i v = _mm512_loadu_si512(p);
  return {in_range(v, '0', '9'), in_range(v, 'A', 'Z'),
          in_range(v, '(', ')') | in_range(v, '-', '/') |
              _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')),
          _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(':'))};
}

#undef PC_AVX512
#endif

using Classifier = ByteClasses (*)(const char*);

Classifier pick() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw")) return classify_avx512;
  return classify_sse2;
#else
  return classify_portable;
#endif
}

}  // namespace

ByteClasses classify(const char* p) {
  static const Classifier chosen = pick();
  return chosen(p);
}

}  // namespace portcullis::guard
