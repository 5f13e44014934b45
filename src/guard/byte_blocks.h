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

}  // namespace portcullis::guard
