// The injection detector's cheap first pass. One sweep over the text finds
// the few places worth a closer look:
//   - anchors: case-insensitive literals (5 to 16 bytes) that every rule's
//     match contains ("ignore ", "are now", "/.ssh");
//   - '<' (HTML comments, chat-template tokens, pseudo-system tags);
//   - lead bytes of the invisible characters (0xE2, 0xEF, 0xF3);
//   - runs of 32+ bytes of the base64 alphabets (A-Z a-z 0-9 + / - _): at
//     least one offset inside each such run.
// Ordinary text yields few events, so the regex work after it is small.
//
// How: the four bytes at each even offset are hashed into a 64 Ki-bit set
// holding, for every anchor, its least common 4-gram at an even and at an
// odd offset; since an anchor of 5+ bytes always has a 4-gram sampled at one
// parity, no occurrence is missed. A hit is confirmed by comparing the
// anchors indexed under that hash. Vector compares in the same step find
// '<', bytes >= 0x80 and the base64 alphabet. The CPU is checked at run time:
//   - AVX-512 (F, BW): 64 bytes a step. The 32 samples first pass three
//     1024-bit filters kept in registers (a Bloom filter of the indexed
//     4-grams, by three other hashes), so memory is read only for the few
//     that pass; a gather per sample would cost more than all the rest.
//   - AVX2: 32 bytes a step, the sixteen samples looked up in the bit set
//     with two gathers.
// Both note hits, '<' and base64 runs in a batch that is worked through
// afterwards, so that their inner loop has no data-dependent branch.
// Otherwise SSE2 does 16 bytes a step, and without SSE2 the same work goes
// two bytes a step.
//
// Threads: built once, then immutable; scan() is const and reentrant.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard::injection {

struct Events {
  std::vector<std::pair<size_t, uint32_t>> anchors;  // (start offset, anchor id), sorted, unique
  std::vector<size_t> angles;                        // offsets of '<'
  std::vector<size_t> high;                          // offsets of 0xE2/0xEF/0xF3 lead bytes
  std::vector<size_t> base64_runs;                   // an offset inside each long run
};

class Prefilter {
 public:
  // The widest sweep to use, if the CPU has it (the tests compare them all;
  // the events are the same whichever runs).
  enum class Width { kAvx512, kAvx2, kPortable };

  // `anchors` are lower-case ASCII, each 5 to 16 bytes long.
  explicit Prefilter(const std::vector<std::string>& anchors, Width widest = Width::kAvx512);
  void scan(std::string_view text, Events& out) const;

 private:
  void confirm(std::string_view text, size_t i, uint32_t hash, Events& out) const;
  bool matches(std::string_view text, size_t start, uint32_t anchor) const;
#if defined(__x86_64__)
  // The AVX2 sweep over the text's 32-byte blocks; returns where it stopped.
  size_t sweep_avx2(std::string_view text, size_t& run, Events& out, size_t from) const;
  size_t sweep_avx512(std::string_view text, size_t& run, Events& out) const;
  bool avx2_ = false;    // the AVX2 sweep runs (the CPU has AVX2 and BMI1)
  bool avx512_ = false;  // the AVX-512 sweep runs first (the CPU has AVX-512 F and BW)
  static constexpr size_t kFilters = 3;
  std::array<std::array<uint32_t, 32>, kFilters> filters_{};
#endif

  std::vector<std::string> anchors_;
  struct Folded {  // an anchor as 16 bytes: letters compared with 0x20 ORed in
    uint64_t value[2], fold[2], keep[2];
    size_t size;
  };
  std::vector<Folded> folded_;
  std::vector<uint64_t> bits_;  // 1 << 16 bits
  // hash -> entries_[begin, begin + count): (anchor id, offset of the 4-gram).
  // An open-addressed table of the few hashes indexed (a few KiB, so that a
  // confirmation stays in L1 while the text streams through the cache).
  struct Slot {
    uint32_t hash;
    uint16_t begin, count;  // count 0: empty
  };
  std::vector<Slot> slots_;  // a power of two, at most a quarter full
  std::vector<std::pair<uint32_t, uint32_t>> entries_;
};

}  // namespace portcullis::guard::injection
