// Byte classes of 64-byte blocks as 64-bit masks (bit i: byte i is in the
// class), for scanners that look at every byte but act on few: classify a
// block in a handful of vector instructions, combine masks with shifts, and
// fall to per-byte code only where the masks say something may be there.
// each_block() runs the caller's code with AVX-512BW where the CPU has it
// (checked once), else SSE2 (part of x86-64), else a portable loop; the
// caller's code is inlined into each variant.
// Pure functions; any thread.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__x86_64__)
#include <immintrin.h>
#define PC_AVX512 __attribute__((target("avx512f,avx512bw")))
#endif

namespace portcullis::guard {

inline constexpr unsigned kBlock = 64;

struct ByteClasses {
  uint64_t digits;      // 0-9
  uint64_t capitals;    // A-Z
  uint64_t separators;  // the numeric-run separators: space . - / ( )
  uint64_t colons;      // :
};

// Bit i set when `m` has a bit set `lo`..`hi` positions before i, across the
// block boundary: `prev` is the previous block's mask (0 before the first).
inline uint64_t near_before(uint64_t m, uint64_t prev, unsigned lo, unsigned hi) {
  uint64_t near = 0;
  for (unsigned d = lo; d <= hi; ++d) near |= (m << d) | (prev >> (64 - d));
  return near;
}

namespace blocks {

bool has_avx512bw();  // the CPU's answer, asked once

#if defined(__x86_64__)
// Bytes in [lo, hi]: unsigned (c - lo) <= hi - lo.
inline unsigned in_range(__m128i v, char lo, char hi) {
  __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo)), span = _mm_set1_epi8(char(hi - lo));
  return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, span), d)));
}
inline unsigned equal(__m128i v, char c) {
  return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c))));
}
inline ByteClasses classify_sse2(const char* p) {
  ByteClasses m{0, 0, 0, 0};
  for (unsigned k = 0; k < kBlock / 16; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    unsigned shift = 16 * k;
    m.digits |= uint64_t(in_range(v, '0', '9')) << shift;
    m.capitals |= uint64_t(in_range(v, 'A', 'Z')) << shift;
    m.separators |=
        uint64_t(in_range(v, '(', ')') | in_range(v, '-', '/') | equal(v, ' ')) << shift;
    m.colons |= uint64_t(equal(v, ':')) << shift;
  }
  return m;
}

PC_AVX512 inline uint64_t in_range(__m512i v, char lo, char hi) {
  return _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(lo)),
                                _mm512_set1_epi8(char(hi - lo)));
}
PC_AVX512 inline ByteClasses classify_avx512(const char* p) {
  __m512i v = _mm512_loadu_si512(p);
  return {in_range(v, '0', '9'), in_range(v, 'A', 'Z'),
          in_range(v, '(', ')') | in_range(v, '-', '/') |
              _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')),
          _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(':'))};
}
#endif

inline ByteClasses classify_portable(const char* p) {
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

// The last, partial block, padded with NUL bytes (in no class).
template <typename Fn, typename Classify>
inline void blocks_with(std::string_view t, Fn& fn, Classify classify) {
  size_t b = 0;
  for (; b + kBlock <= t.size(); b += kBlock) fn(b, classify(t.data() + b));
  if (b < t.size()) {
    char tail[kBlock] = {};
    std::memcpy(tail, t.data() + b, t.size() - b);
    fn(b, classify(tail));
  }
}

#if defined(__x86_64__)
template <typename Fn>
PC_AVX512 void each_avx512(std::string_view t, Fn& fn) {
  blocks_with(t, fn, [](const char* p) PC_AVX512 { return classify_avx512(p); });
}
#endif

}  // namespace blocks

// Calls fn(offset, classes) for each 64-byte block of `t` in order (the
// last one padded with NULs).
template <typename Fn>
void each_block(std::string_view t, Fn&& fn) {
#if defined(__x86_64__)
  if (blocks::has_avx512bw()) return blocks::each_avx512(t, fn);
  blocks::blocks_with(t, fn, blocks::classify_sse2);
#else
  blocks::blocks_with(t, fn, blocks::classify_portable);
#endif
}

}  // namespace portcullis::guard
