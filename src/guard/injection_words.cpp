#include "guard/injection_words.h"

#include <algorithm>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace portcullis::guard::injection {
namespace {

inline bool word_byte(unsigned char c) {
  const unsigned char lower = c | 0x20;
  return (lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

inline unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c;
}

}  // namespace

WordSet::WordSet(std::vector<std::string> words, bool vector) : words_(std::move(words)) {
  for (const auto& w : words_) {
    if (w.size() < 2 || w.size() > 16 || !std::all_of(w.begin(), w.end(), [](char c) {
          return word_byte(static_cast<unsigned char>(c)) &&
                 lower(static_cast<unsigned char>(c)) == c;
        }))
      throw std::invalid_argument("injection word not of 2 to 16 lower-case word bytes: " + w);
    const uint16_t bigram = static_cast<uint16_t>((static_cast<unsigned char>(w[0]) | 0x20) |
                                                  (static_cast<unsigned char>(w[1]) | 0x20) << 8);
    if (std::find(bigrams_.begin(), bigrams_.end(), bigram) == bigrams_.end())
      bigrams_.push_back(bigram);
  }
#if defined(__x86_64__)
  avx512_ = vector && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
  (void)vector;
#endif
}

// The run of word bytes starting at `start` (which begins one) is a word.
bool WordSet::is_word_at(std::string_view window, size_t start) const {
  size_t end = start;
  while (end < window.size() && word_byte(static_cast<unsigned char>(window[end]))) ++end;
  const size_t size = end - start;
  for (const auto& w : words_) {
    if (w.size() != size) continue;
    size_t k = 0;
    while (k < size && lower(static_cast<unsigned char>(window[start + k])) == w[k]) ++k;
    if (k == size) return true;
  }
  return false;
}

bool WordSet::contains(std::string_view window) const {
#if defined(__x86_64__)
  if (avx512_) return contains_avx512(window);
#endif
  return contains_portable(window);
}

bool WordSet::contains_portable(std::string_view window) const {
  const size_t n = window.size();
  for (size_t k = 0; k < n; ++k)
    if (static_cast<unsigned char>(window[k]) >= 0x80) return true;
  for (size_t k = 0; k < n;) {
    if (!word_byte(static_cast<unsigned char>(window[k]))) {
      ++k;
      continue;
    }
    if (is_word_at(window, k)) return true;
    while (k < n && word_byte(static_cast<unsigned char>(window[k]))) ++k;
  }
  return false;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,bmi"))) bool WordSet::contains_avx512(
    std::string_view window) const {
  const char* p = window.data();
  const size_t n = window.size();
  const __m512i fold = _mm512_set1_epi8(0x20);
  uint64_t before = 0;  // 1 when the byte before this block is a word byte
  for (size_t i = 0; i < n; i += 64) {
    // Masked loads: no byte past the window is read (nor faults).
    const size_t left = n - i;
    const __mmask64 here = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const __mmask64 next = left > 64 ? ~__mmask64{0} : (__mmask64{1} << (left - 1)) - 1;
    const __m512i x = _mm512_maskz_loadu_epi8(here, p + i);
    if (_mm512_movepi8_mask(x)) return true;
    const __m512i x1 = _mm512_maskz_loadu_epi8(next, p + i + 1);
    const __m512i lx = _mm512_or_si512(x, fold), lx1 = _mm512_or_si512(x1, fold);
    const __mmask64 letter =
        _mm512_cmple_epu8_mask(_mm512_sub_epi8(lx, _mm512_set1_epi8('a')), _mm512_set1_epi8(25));
    const __mmask64 digit =
        _mm512_cmple_epu8_mask(_mm512_sub_epi8(x, _mm512_set1_epi8('0')), _mm512_set1_epi8(9));
    const __mmask64 word = letter | digit | _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('_'));
    uint64_t starts = word & ~((word << 1) | before);
    before = word >> 63;
    uint64_t candidates = 0;
    for (const uint16_t b : bigrams_)
      candidates |= _mm512_cmpeq_epi8_mask(lx, _mm512_set1_epi8(static_cast<char>(b & 0xFF))) &
                    _mm512_cmpeq_epi8_mask(lx1, _mm512_set1_epi8(static_cast<char>(b >> 8)));
    for (candidates &= starts; candidates; candidates &= candidates - 1)
      if (is_word_at(window, i + static_cast<size_t>(__builtin_ctzll(candidates)))) return true;
  }
  return false;
}
#endif

}  // namespace portcullis::guard::injection
