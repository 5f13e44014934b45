// One byte value's positions in a 64-byte block as a 64-bit mask (bit i:
// byte i matches), for scanners that look at every byte but act on few:
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

// Positions of `c` in p[0..63].
inline uint64_t byte_mask(const char* p, char c) {
#if defined(__SSE2__)
  const __m128i want = _mm_set1_epi8(c);
  uint64_t m = 0;
  for (unsigned k = 0; k < kBlock / 16; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    m |= uint64_t(unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, want)))) << (16 * k);
  }
  return m;
#else
  uint64_t m = 0;
  for (unsigned i = 0; i < kBlock; ++i) m |= uint64_t(p[i] == c) << i;
  return m;
#endif
}

// Bit i set when `m` has a bit set `lo`..`hi` positions before i, across the
// block boundary: `prev` is the previous block's mask (0 before the first).
inline uint64_t near_before(uint64_t m, uint64_t prev, unsigned lo, unsigned hi) {
  uint64_t near = 0;
  for (unsigned d = lo; d <= hi; ++d) near |= (m << d) | (prev >> (64 - d));
  return near;
}

// Calls fn(offset, mask of `c`) for each 64-byte block of `t` in order (the
// last one padded with NULs, so `c` must not be NUL).
template <typename Fn>
void each_block_mask(std::string_view t, char c, Fn&& fn) {
  size_t b = 0;
  for (; b + kBlock <= t.size(); b += kBlock) fn(b, byte_mask(t.data() + b, c));
  if (b < t.size()) {
    char tail[kBlock] = {};
    std::memcpy(tail, t.data() + b, t.size() - b);
    fn(b, byte_mask(tail, c));
  }
}

}  // namespace portcullis::guard
