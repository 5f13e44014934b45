// Byte classes of a 64-byte block as 64-bit masks (bit i: byte i is in the
// class), for scanners that look at every byte but act on few: classify a
// block in a handful of vector instructions, combine masks with shifts, and
// fall to per-byte code only where the masks say something may be there.
// classify() uses AVX-512BW where the CPU has it (checked once, at first
// use), else SSE2 (part of x86-64), else a portable loop.
// Pure functions; any thread.
#pragma once
#include <cstdint>

namespace portcullis::guard {

inline constexpr unsigned kBlock = 64;

struct ByteClasses {
  uint64_t digits;      // 0-9
  uint64_t capitals;    // A-Z
  uint64_t separators;  // the numeric-run separators: space . - / ( )
  uint64_t colons;      // :
};

// Classifies p[0..63] (all 64 bytes must be readable).
ByteClasses classify(const char* p);

// Bit i set when `m` has a bit set `lo`..`hi` positions before i, across the
// block boundary: `prev` is the previous block's mask (0 before the first).
inline uint64_t near_before(uint64_t m, uint64_t prev, unsigned lo, unsigned hi) {
  uint64_t near = 0;
  for (unsigned d = lo; d <= hi; ++d) near |= (m << d) | (prev >> (64 - d));
  return near;
}

}  // namespace portcullis::guard
