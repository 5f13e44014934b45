// Byte classes of a 64-byte block as 64-bit masks (bit i: byte i is in the
// class), for scanners that look at every byte but act on few:
// find a block's candidates with a few SSE2 instructions (part of x86-64),
// combine masks with shifts, and fall to per-byte code only where the
// masks say something may be there. Pure functions; any thread.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace portcullis::guard {

inline constexpr unsigned kBlock = 64;

// Positions of bytes in [lo, hi] (unsigned) in p[0..63].
inline uint64_t range_mask(const char* p, char lo, char hi) {
#if defined(__SSE2__)
  const __m128i base = _mm_set1_epi8(lo), span = _mm_set1_epi8(char(hi - lo));
  uint64_t m = 0;
  for (unsigned k = 0; k < kBlock / 16; ++k) {
    __m128i v = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)), base);
    // Unsigned v <= span exactly for bytes in [lo, hi].
    m |= uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, span), v))))
         << (16 * k);
  }
  return m;
#else
  uint64_t m = 0;
  for (unsigned i = 0; i < kBlock; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    m |= uint64_t(c >= static_cast<unsigned char>(lo) && c <= static_cast<unsigned char>(hi)) << i;
  }
  return m;
#endif
}

// Positions of `c` in p[0..63].
inline uint64_t byte_mask(const char* p, char c) { return range_mask(p, c, c); }

// The byte classes the PII scanners act on, from one set of loads of a
// block (numeric_runs.h, ipv6_spans.h, email_spans.h read the text once).
struct BlockMasks {
  uint64_t digits;     // 0-9
  uint64_t separators;  // the numeric run separators: space ( ) - . /
  uint64_t capitals;   // A-Z
  uint64_t colons;     // ':'
  uint64_t ats;        // '@'
  uint64_t bs;         // 'b' or 'B'
  uint64_t os;         // 'o' or 'O'
  uint64_t is;         // 'i' or 'I'
  uint64_t dots;       // '.'
};

inline BlockMasks block_masks(const char* p) {
#if defined(__SSE2__)
  auto in = [](__m128i v, char lo, char hi) {
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
    return uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(char(hi - lo))), d))));
  };
  auto eq = [](__m128i v, char c) {
    return uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)))));
  };
  BlockMasks m{0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (unsigned k = 0; k < kBlock / 16; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));  // ASCII letters to lower case
    m.bs |= eq(folded, 'b') << (16 * k);
    m.os |= eq(folded, 'o') << (16 * k);
    m.is |= eq(folded, 'i') << (16 * k);
    m.dots |= eq(v, '.') << (16 * k);
    m.digits |= in(v, '0', '9') << (16 * k);
    m.separators |= (eq(v, ' ') | in(v, '(', ')') | in(v, '-', '/')) << (16 * k);
    m.capitals |= in(v, 'A', 'Z') << (16 * k);
    m.colons |= eq(v, ':') << (16 * k);
    m.ats |= eq(v, '@') << (16 * k);
  }
  return m;
#else
  return {range_mask(p, '0', '9'),
          byte_mask(p, ' ') | range_mask(p, '(', ')') | range_mask(p, '-', '/'),
          range_mask(p, 'A', 'Z'),
          byte_mask(p, ':'), byte_mask(p, '@'),
          byte_mask(p, 'b') | byte_mask(p, 'B'), byte_mask(p, 'o') | byte_mask(p, 'O'),
          byte_mask(p, 'i') | byte_mask(p, 'I'), byte_mask(p, '.')};
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#define PORTCULLIS_BLOCKS_AVX512 1
// The same masks with AVX-512BW (one load and one compare per class), for
// callers compiled for it (each_block_masks checks the CPU).
__attribute__((target("avx512bw"))) inline uint64_t in_range_avx512(__m512i v, char lo, char hi) {
  return _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(lo)),
                                _mm512_set1_epi8(char(hi - lo)));
}
__attribute__((target("avx512bw"))) inline BlockMasks block_masks_avx512(const char* p) {
  const __m512i v = _mm512_loadu_si512(p);
  const __m512i folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));  // ASCII letters to lower case
  return {in_range_avx512(v, '0', '9'),
          _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')) | in_range_avx512(v, '(', ')') |
              in_range_avx512(v, '-', '/'),
          in_range_avx512(v, 'A', 'Z'), _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(':')),
          _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('@')),
          _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('b')),
          _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('o')),
          _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('i')),
          _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.'))};
}
#endif

// Bit i set when `m` has a bit set `lo`..`hi` positions before i, across the
// block boundary: `prev` is the previous block's mask (0 before the first).
inline uint64_t near_before(uint64_t m, uint64_t prev, unsigned lo, unsigned hi) {
  uint64_t near = 0;
  for (unsigned d = lo; d <= hi; ++d) near |= (m << d) | (prev >> (64 - d));
  return near;
}

// Calls fn(offset, block) for each 64-byte block of `t` in order; the last
// one is copied into a buffer padded with NULs.
template <typename Fn>
void each_block(std::string_view t, Fn&& fn) {
  size_t b = 0;
  for (; b + kBlock <= t.size(); b += kBlock) fn(b, t.data() + b);
  if (b < t.size()) {
    char tail[kBlock] = {};
    std::memcpy(tail, t.data() + b, t.size() - b);
    fn(b, static_cast<const char*>(tail));
  }
}

namespace detail {
template <typename Fn>
void each_block_masks_sse2(std::string_view t, Fn& fn) {
  each_block(t, [&](size_t b, const char* block) { fn(b, block_masks(block)); });
}
#if PORTCULLIS_BLOCKS_AVX512
template <typename Fn>
__attribute__((target("avx512bw"))) void each_block_masks_avx512(std::string_view t, Fn& fn) {
  size_t b = 0;
  for (; b + kBlock <= t.size(); b += kBlock) fn(b, block_masks_avx512(t.data() + b));
  if (b < t.size()) {
    char tail[kBlock] = {};
    std::memcpy(tail, t.data() + b, t.size() - b);
    fn(b, block_masks_avx512(tail));
  }
}
inline bool has_avx512bw() {
  static const bool yes = __builtin_cpu_supports("avx512bw");
  return yes;
}
#endif
}  // namespace detail

// Calls fn(offset, masks) for each 64-byte block of `t` in order (the last
// one padded with NULs), with AVX-512BW when the CPU has it. `fn` is
// inlined into the loop of either kind.
template <typename Fn>
void each_block_masks(std::string_view t, Fn&& fn) {
#if PORTCULLIS_BLOCKS_AVX512
  if (detail::has_avx512bw()) return detail::each_block_masks_avx512(t, fn);
#endif
  detail::each_block_masks_sse2(t, fn);
}

}  // namespace portcullis::guard
