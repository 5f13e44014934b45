#include "guard/injection_prefilter.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace portcullis::guard::injection {
namespace {

constexpr size_t kBase64Run = 32;  // bytes; shorter runs are identifiers and hashes

// Folds ASCII letters to lower case; other bytes change too, but the same way
// for anchors and text, so folding can only add candidates, never lose one.
constexpr uint32_t kHashMultiplier = 0x9E3779B1u;
inline uint32_t hash4(uint32_t w) { return ((w | 0x20202020u) * kHashMultiplier) >> 16; }

// The register-held filters of the AVX-512 sweep: three 10-bit hashes of a
// 4-gram, folded the same way.
constexpr uint32_t kFilterMultipliers[] = {0x9E3779B1u, 0x85EBCA77u, 0xC2B2AE3Du};
inline uint32_t filter_hash(uint32_t w, size_t t) {
  return ((w | 0x20202020u) * kFilterMultipliers[t]) >> 22;
}

inline uint32_t load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

inline bool is_high_lead(unsigned char b) { return b == 0xE2 || b == 0xEF || b == 0xF3; }

// Either base64 alphabet: A-Z a-z 0-9 + / - _ (what the detector decodes).
inline bool is_base64(unsigned char b) {
  const unsigned char lower = b | 0x20;
  return (lower >= 'a' && lower <= 'z') || (b >= '0' && b <= '9') || b == '+' || b == '/' ||
         b == '-' || b == '_';
}

// The byte-at-a-time sweep of the text's last bytes.
inline void note_byte(const char* p, size_t k, size_t& run, Events& out) {
  const unsigned char b = static_cast<unsigned char>(p[k]);
  if (b == '<')
    out.angles.push_back(k);
  else if (is_high_lead(b))
    out.high.push_back(k);
  run = is_base64(b) ? run + 1 : 0;
  if (run == kBase64Run) out.base64_runs.push_back(k);
}

// Rough commonness of a byte in English prose and code, so that each anchor
// is indexed by its least common 4-grams ("isre" of "disregard", not "gard").
double commonness(unsigned char c) {
  static const char* kByFrequency = " etaoinshrdlcumwfgypbvkjxqz";
  c = static_cast<unsigned char>(c | 0x20);
  const char* at = std::strchr(kByFrequency, c);
  if (c == 0 || !at) return 0.01;  // punctuation, digits: rare in prose
  return 0.2 - 0.007 * static_cast<double>(at - kByFrequency);
}

}  // namespace

Prefilter::Prefilter(const std::vector<std::string>& anchors, Width widest)
    : anchors_(anchors), bits_(1 << 10) {
#if defined(__x86_64__)
  avx2_ =
      widest != Width::kPortable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
  avx512_ = widest == Width::kAvx512 && avx2_ && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw");
#else
  (void)widest;
#endif
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> buckets(1 << 16);
  for (uint32_t a = 0; a < anchors_.size(); ++a) {
    const std::string& s = anchors_[a];
    if (s.size() < 5 || s.size() > 16)
      throw std::invalid_argument("injection anchor not of 5 to 16 bytes: " + s);
    unsigned char value[16] = {}, fold[16] = {}, keep[16] = {};
    for (size_t j = 0; j < s.size(); ++j) {
      const bool letter = s[j] >= 'a' && s[j] <= 'z';
      value[j] = static_cast<unsigned char>(s[j]);
      fold[j] = letter ? 0x20 : 0;
      keep[j] = 0xFF;
    }
    Folded f;
    f.size = s.size();
    std::memcpy(f.value, value, 16);
    std::memcpy(f.fold, fold, 16);
    std::memcpy(f.keep, keep, 16);
    folded_.push_back(f);
    // Samples fall on even offsets of the text, so an occurrence is seen at
    // even or at odd offsets of the anchor: index the rarest 4-gram of each.
    for (uint32_t parity = 0; parity < 2; ++parity) {
      uint32_t best = parity;
      double best_score = 1e9;
      for (uint32_t off = parity; off + 4 <= s.size(); off += 2) {
        double score = 1;
        for (int k = 0; k < 4; ++k) score *= commonness(static_cast<unsigned char>(s[off + k]));
        if (score < best_score) best = off, best_score = score;
      }
      uint32_t h = hash4(load4(s.data() + best));
      bits_[h >> 6] |= uint64_t{1} << (h & 63);
      for (size_t t = 0; t < kFilters; ++t) {
        const uint32_t g = filter_hash(load4(s.data() + best), t);
        filters_[t][g & 31] |= uint32_t{1} << (g >> 5);
      }
      buckets[h].push_back({a, best});
    }
  }
  size_t hashes = 0;
  for (const auto& b : buckets) hashes += !b.empty();
  size_t size = 256;
  while (size < 4 * hashes) size *= 2;
  slots_.assign(size, Slot{0, 0, 0});
  for (uint32_t h = 0; h < buckets.size(); ++h) {
    if (buckets[h].empty()) continue;
    size_t s = h & (size - 1);
    while (slots_[s].count) s = (s + 1) & (size - 1);
    slots_[s] =
        Slot{h, static_cast<uint16_t>(entries_.size()), static_cast<uint16_t>(buckets[h].size())};
    entries_.insert(entries_.end(), buckets[h].begin(), buckets[h].end());
  }
}

inline bool Prefilter::matches(std::string_view text, size_t start, uint32_t a) const {
  const Folded& f = folded_[a];
  if (start + f.size > text.size()) return false;
  if (start + 16 <= text.size()) {
    // Sixteen bytes at once: OR 0x20 folds the letters (and only they are
    // compared folded), `keep` drops the bytes after the anchor.
    uint64_t w[2];
    std::memcpy(w, text.data() + start, 16);
    return (((w[0] | f.fold[0]) & f.keep[0]) == f.value[0]) &
           (((w[1] | f.fold[1]) & f.keep[1]) == f.value[1]);
  }
  const std::string& s = anchors_[a];
  for (size_t j = 0; j < s.size(); ++j) {
    unsigned char c = static_cast<unsigned char>(text[start + j]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    if (c != static_cast<unsigned char>(s[j])) return false;
  }
  return true;
}

void Prefilter::confirm(std::string_view text, size_t i, uint32_t hash, Events& out) const {
  const size_t mask = slots_.size() - 1;
  size_t s = hash & mask;
  while (slots_[s].count && slots_[s].hash != hash) s = (s + 1) & mask;
  const Slot& slot = slots_[s];  // found: only hashes set in bits_ are confirmed
  for (uint32_t k = slot.begin; k < slot.begin + slot.count; ++k) {
    auto [a, off] = entries_[k];
    if (off <= i && matches(text, i - off, a)) out.anchors.push_back({i - off, a});
  }
}

namespace {

// One block of the base64-run sweep: `brk` has a bit for each of the block's
// `width` bytes that cannot be base64. A run that reaches kBase64Run bytes
// gets one event, at an offset inside it.
inline void track_runs(uint32_t brk, unsigned width, size_t i, size_t& run, Events& out) {
  if (brk == 0) {
    if (run < kBase64Run && run + width >= kBase64Run) out.base64_runs.push_back(i);
    run += width;
    return;
  }
  const unsigned lead = static_cast<unsigned>(__builtin_ctz(brk));
  if (run < kBase64Run && run + lead >= kBase64Run) out.base64_runs.push_back(i + lead - 1);
  run = width - 1 - (31 - static_cast<unsigned>(__builtin_clz(brk)));  // bytes after the last break
}

// The branch-free form of track_runs for a 32-byte block, for the batched
// sweeps: the event goes to events[count], and count grows when there is one.
inline void note_runs(uint32_t brk, size_t i, size_t& run, size_t* events, size_t& count) {
  const size_t lead = brk ? static_cast<size_t>(__builtin_ctz(brk)) : 32;
  events[count] = i + lead - 1;
  count += run < kBase64Run && run + lead >= kBase64Run;
  run = brk ? static_cast<size_t>(__builtin_clz(brk)) : run + 32;  // bytes after the last break
}

// '<' and the lead bytes of invisible characters among the bytes marked in `special`.
inline void note_special(const char* p, size_t i, uint64_t special, Events& out) {
  for (; special; special &= special - 1) {
    const size_t k = i + static_cast<unsigned>(__builtin_ctzll(special));
    const unsigned char b = static_cast<unsigned char>(p[k]);
    if (b == '<')
      out.angles.push_back(k);
    else if (is_high_lead(b))
      out.high.push_back(k);
  }
}

#if defined(__SSE2__)
// Bytes of the base64 alphabets (A-Z a-z 0-9 + / - _) as 0xFF, others 0.
inline __m128i base64_bytes(__m128i x) {
  auto in_range = [](__m128i v, char lo, char hi) {
    const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(static_cast<char>(hi - lo))), d);
  };
  const __m128i letter = in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i digit = in_range(x, '0', '9');
  const __m128i sym = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('+')), _mm_cmpeq_epi8(x, _mm_set1_epi8('/'))),
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')), _mm_cmpeq_epi8(x, _mm_set1_epi8('_'))));
  return _mm_or_si128(_mm_or_si128(letter, digit), sym);
}
#endif

}  // namespace

#if defined(__x86_64__)
#define PC_AVX2 __attribute__((target("avx2,bmi")))
namespace {

// Bit per byte of `x` that is not in the base64 alphabets (A-Z a-z 0-9 + / - _).
// Two nibble lookups: the high nibble picks a row class (bit), the low
// nibble the classes it is valid in; bytes >= 0x80 have no class.
PC_AVX2 inline uint32_t non_base64_bytes(__m256i x) {
  const __m256i by_high = _mm256_setr_epi8(0, 0, 1, 2, 4, 8, 4, 16, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                           0, 0, 1, 2, 4, 8, 4, 16, 0, 0, 0, 0, 0, 0, 0, 0);
  // 1: + - / (0x2B 0x2D 0x2F); 2: 0-9; 4: A-O, a-o; 8: P-Z, _; 16: p-z.
  const __m256i by_low =
      _mm256_setr_epi8(26, 30, 30, 30, 30, 30, 30, 30, 30, 30, 28, 5, 4, 5, 4, 13,  //
                       26, 30, 30, 30, 30, 30, 30, 30, 30, 30, 28, 5, 4, 5, 4, 13);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
  const __m256i classes = _mm256_and_si256(
      _mm256_shuffle_epi8(by_high, high), _mm256_shuffle_epi8(by_low, _mm256_and_si256(x, nibble)));
  return static_cast<uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(classes, _mm256_setzero_si256())));
}

// Bit k: the 4-gram in dword k of `w` hashes to a bit that is set in `words`.
PC_AVX2 inline unsigned sample_hits(__m256i w, const int* words) {
  const __m256i h =
      _mm256_srli_epi32(_mm256_mullo_epi32(_mm256_or_si256(w, _mm256_set1_epi32(0x20202020)),
                                           _mm256_set1_epi32(static_cast<int>(kHashMultiplier))),
                        16);
  const __m256i word = _mm256_i32gather_epi32(words, _mm256_srli_epi32(h, 5), 4);
  // Shift bit h & 31 of the word to the sign bit, which movemask collects.
  const __m256i top = _mm256_sllv_epi32(word, _mm256_andnot_si256(h, _mm256_set1_epi32(31)));
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(top)));
}

}  // namespace

// 32 bytes per step. The sixteen 4-gram samples (at even offsets) are hashed
// in two vectors and tested with two gathers from the bit set. The inner loop
// has neither calls nor data-dependent branches: blocks with a sample hit,
// '<' or a byte >= 0x80 are noted in a small batch, as are base64 runs
// reaching kBase64Run, and the batch is worked through afterwards. Ordinary
// prose hits a sample in one block in five or so; a branch per block would
// be mispredicted that often.
PC_AVX2 size_t Prefilter::sweep_avx2(std::string_view text, size_t& run, Events& out,
                                     size_t i) const {
  const char* p = text.data();
  const size_t n = text.size();
  const int* words = reinterpret_cast<const int*>(bits_.data());  // bit h: word h >> 5, bit h & 31
  const __m256i angle = _mm256_set1_epi8('<');
  constexpr size_t kBatch = 64;
  struct Marked {
    size_t at;
    uint32_t samples;  // bit k: the sample at 4k hit; bit 8 + k: the one at 4k + 2
    uint32_t special;  // bit k: byte k is '<' or >= 0x80
  };
  Marked marked[kBatch];
  size_t run_events[kBatch];
  while (i + 34 <= n) {
    size_t count = 0, runs = 0;
    for (; i + 34 <= n && count < kBatch && runs < kBatch; i += 32) {
      const __m256i at0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      const __m256i at2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 2));
      const uint32_t samples = sample_hits(at0, words) | sample_hits(at2, words) << 8;
      const uint32_t special = static_cast<uint32_t>(
          _mm256_movemask_epi8(_mm256_cmpeq_epi8(at0, angle)) | _mm256_movemask_epi8(at0));
      marked[count] = {i, samples, special};
      count += (samples | special) != 0;
      note_runs(non_base64_bytes(at0), i, run, run_events, runs);
    }
    for (size_t k = 0; k < count; ++k) {
      for (uint32_t h = marked[k].samples; h; h &= h - 1) {
        const unsigned bit = static_cast<unsigned>(__builtin_ctz(h));
        const size_t at = marked[k].at + (bit < 8 ? 4 * bit : 4 * (bit - 8) + 2);
        confirm(text, at, hash4(load4(p + at)), out);
      }
      if (marked[k].special) note_special(p, marked[k].at, marked[k].special, out);
    }
    out.base64_runs.insert(out.base64_runs.end(), run_events, run_events + runs);
  }
  return i;
}

#define PC_AVX512 __attribute__((target("avx512f,avx512bw,bmi")))
namespace {

// Bit per byte of `x` that is not in the base64 alphabets; as non_base64_bytes.
PC_AVX512 inline uint64_t non_base64_bytes512(__m512i x) {
  const __m512i by_high =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 1, 2, 4, 8, 4, 16, 0, 0, 0, 0, 0, 0, 0, 0));
  const __m512i by_low = _mm512_broadcast_i32x4(
      _mm_setr_epi8(26, 30, 30, 30, 30, 30, 30, 30, 30, 30, 28, 5, 4, 5, 4, 13));
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i high = _mm512_and_si512(_mm512_srli_epi16(x, 4), nibble);
  const __m512i classes = _mm512_and_si512(
      _mm512_shuffle_epi8(by_high, high), _mm512_shuffle_epi8(by_low, _mm512_and_si512(x, nibble)));
  return _mm512_testn_epi8_mask(classes, classes);
}

}  // namespace

// 64 bytes per step, as the AVX2 sweep but without gathers: each of the 32
// samples must pass three 1024-bit filters held in registers (a Bloom filter
// of the ~170 indexed 4-grams; other 4-grams pass about 1 time in 300), and
// only what passes is looked up in the bit set and confirmed.
PC_AVX512 size_t Prefilter::sweep_avx512(std::string_view text, size_t& run, Events& out) const {
  const char* p = text.data();
  const size_t n = text.size();
  __m512i lo[kFilters], hi[kFilters], mul[kFilters];
  for (size_t t = 0; t < kFilters; ++t) {
    lo[t] = _mm512_loadu_si512(filters_[t].data());
    hi[t] = _mm512_loadu_si512(filters_[t].data() + 16);
    mul[t] = _mm512_set1_epi32(static_cast<int>(kFilterMultipliers[t]));
  }
  const __m512i fold = _mm512_set1_epi32(0x20202020), one = _mm512_set1_epi32(1);
  const __m512i angle = _mm512_set1_epi8('<');
  auto hits = [&](__m512i w) PC_AVX512 {
    const __m512i folded = _mm512_or_si512(w, fold);
    __mmask16 m = 0xFFFF;
    for (size_t t = 0; t < kFilters; ++t) {
      const __m512i h = _mm512_srli_epi32(_mm512_mullo_epi32(folded, mul[t]), 22);
      const __m512i word = _mm512_permutex2var_epi32(lo[t], h, hi[t]);
      m &= _mm512_test_epi32_mask(word, _mm512_sllv_epi32(one, _mm512_srli_epi32(h, 5)));
    }
    return static_cast<uint32_t>(m);
  };
  constexpr size_t kBatch = 64;
  struct Marked {
    size_t at;
    uint32_t samples;  // bit k: the sample at 4k hit; bit 16 + k: the one at 4k + 2
    uint64_t special;  // bit k: byte k is '<' or >= 0x80
  };
  Marked marked[kBatch];
  size_t run_events[kBatch];
  size_t i = 0;
  while (i + 66 <= n) {
    size_t count = 0, runs = 0;
    for (; i + 66 <= n && count < kBatch && runs + 1 < kBatch; i += 64) {
      const __m512i at0 = _mm512_loadu_si512(p + i);
      const __m512i at2 = _mm512_loadu_si512(p + i + 2);
      const uint32_t samples = hits(at0) | hits(at2) << 16;
      const uint64_t special = _mm512_cmpeq_epi8_mask(at0, angle) | _mm512_movepi8_mask(at0);
      marked[count] = {i, samples, special};
      count += (samples | special) != 0;
      // In halves: a run of 32+ bytes may lie inside 64 bytes, not inside 32.
      const uint64_t brk = non_base64_bytes512(at0);
      note_runs(static_cast<uint32_t>(brk), i, run, run_events, runs);
      note_runs(static_cast<uint32_t>(brk >> 32), i + 32, run, run_events, runs);
    }
    for (size_t k = 0; k < count; ++k) {
      for (uint32_t h = marked[k].samples; h; h &= h - 1) {
        const unsigned bit = static_cast<unsigned>(__builtin_ctz(h));
        const size_t at = marked[k].at + (bit < 16 ? 4 * bit : 4 * (bit - 16) + 2);
        const uint32_t hash = hash4(load4(p + at));
        if ((bits_[hash >> 6] >> (hash & 63)) & 1) confirm(text, at, hash, out);
      }
      if (marked[k].special) note_special(p, marked[k].at, marked[k].special, out);
    }
    out.base64_runs.insert(out.base64_runs.end(), run_events, run_events + runs);
  }
  return i;
}
#endif

void Prefilter::scan(std::string_view text, Events& out) const {
  const char* p = text.data();
  const size_t n = text.size();
  const uint64_t* bits = bits_.data();
  size_t run = 0;  // length of the current run of base64 bytes
  size_t i = 0;
#if defined(__x86_64__)
  if (avx512_) i = sweep_avx512(text, run, out);
  if (avx2_) i = sweep_avx2(text, run, out, i);
#endif
#if defined(__SSE2__)
  // 16 bytes per step: eight 4-gram samples (branch-free until one hits),
  // and vector compares for '<', bytes >= 0x80 and the base64 alphabet.
  const __m128i angle = _mm_set1_epi8('<');
  for (; i + 20 <= n; i += 16) {
    unsigned hits = 0;
    uint32_t h[8];
    for (unsigned k = 0; k < 8; ++k) {
      h[k] = hash4(load4(p + i + 2 * k));
      hits |= static_cast<unsigned>((bits[h[k] >> 6] >> (h[k] & 63)) & 1) << k;
    }
    if (hits) [[unlikely]] {
      for (; hits; hits &= hits - 1) {
        unsigned k = static_cast<unsigned>(__builtin_ctz(hits));
        confirm(text, i + 2 * k, h[k], out);
      }
    }
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const uint32_t special = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(raw, angle)) |
                                                   _mm_movemask_epi8(raw));
    if (special) [[unlikely]]
      note_special(p, i, special, out);
    track_runs(~static_cast<uint32_t>(_mm_movemask_epi8(base64_bytes(raw))) & 0xFFFF, 16, i, run,
               out);
  }
#endif
  // Two bytes per step (the whole text without SSE2, else its last bytes).
  for (; i + 4 <= n; i += 2) {
    const uint32_t h = hash4(load4(p + i));
    if ((bits[h >> 6] >> (h & 63)) & 1) [[unlikely]]
      confirm(text, i, h, out);
    for (size_t k = i; k < i + 2; ++k) note_byte(p, k, run, out);
  }
  // The last 0-3 bytes: no anchor of 5+ bytes starts unseen here.
  for (; i < n; ++i) note_byte(p, i, run, out);
  if (!std::is_sorted(out.anchors.begin(), out.anchors.end()))  // found in order, mostly
    std::sort(out.anchors.begin(), out.anchors.end());
  out.anchors.erase(std::unique(out.anchors.begin(), out.anchors.end()), out.anchors.end());
}

}  // namespace portcullis::guard::injection
