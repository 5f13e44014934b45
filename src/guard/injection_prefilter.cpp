#include "guard/injection_prefilter.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace portcullis::guard::injection {
namespace {

constexpr size_t kBase64Run = 32;  // bytes; shorter runs are identifiers and hashes

// Folds ASCII letters to lower case; other bytes change too, but the same way
// for anchors and text, so folding can only add candidates, never lose one.
inline uint32_t hash4(uint32_t w) { return ((w | 0x20202020u) * 0x9E3779B1u) >> 16; }

inline uint32_t load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

inline bool is_high_lead(unsigned char b) { return b == 0xE2 || b == 0xEF || b == 0xF3; }

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

Prefilter::Prefilter(const std::vector<std::string>& anchors)
    : anchors_(anchors), bits_(1 << 10), begin_((1 << 16) + 1) {
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> buckets(1 << 16);
  for (uint32_t a = 0; a < anchors_.size(); ++a) {
    const std::string& s = anchors_[a];
    if (s.size() < 5) throw std::invalid_argument("injection anchor shorter than 5 bytes: " + s);
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
      buckets[h].push_back({a, best});
    }
  }
  for (size_t h = 0; h < buckets.size(); ++h) {
    begin_[h] = static_cast<uint32_t>(entries_.size());
    entries_.insert(entries_.end(), buckets[h].begin(), buckets[h].end());
  }
  begin_[1 << 16] = static_cast<uint32_t>(entries_.size());
}

bool Prefilter::matches(std::string_view text, size_t start, uint32_t a) const {
  const std::string& s = anchors_[a];
  if (start + s.size() > text.size()) return false;
  for (size_t j = 0; j < s.size(); ++j) {
    unsigned char c = static_cast<unsigned char>(text[start + j]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    if (c != static_cast<unsigned char>(s[j])) return false;
  }
  return true;
}

void Prefilter::confirm(std::string_view text, size_t i, uint32_t hash, Events& out) const {
  for (uint32_t k = begin_[hash]; k < begin_[hash + 1]; ++k) {
    auto [a, off] = entries_[k];
    if (off <= i && matches(text, i - off, a)) out.anchors.push_back({i - off, a});
  }
}

void Prefilter::scan(std::string_view text, Events& out) const {
  const char* p = text.data();
  const size_t n = text.size();
  const uint64_t* bits = bits_.data();
  size_t run = 0;  // length of the current run of bytes that may be base64
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes per step: eight 4-gram samples (branch-free until one hits),
  // and vector compares for '<', bytes >= 0x80 and base64 runs.
  const __m128i angle = _mm_set1_epi8('<'), plus = _mm_set1_epi8('+');
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
    unsigned special = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(raw, angle)) |
                                             _mm_movemask_epi8(raw));
    if (special) [[unlikely]] {
      for (; special; special &= special - 1) {
        size_t k = i + static_cast<unsigned>(__builtin_ctz(special));
        unsigned char b = static_cast<unsigned char>(p[k]);
        if (b == '<')
          out.angles.push_back(k);
        else if (is_high_lead(b))
          out.high.push_back(k);
      }
    }
    // Base64 never holds a byte below '+' (space, newline, quotes) or >= 0x80
    // (negative in this signed compare). The slow path checks the alphabet.
    unsigned brk = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(raw, plus)));
    if (brk == 0) {
      if (run < kBase64Run && run + 16 >= kBase64Run) out.base64_runs.push_back(i);
      run += 16;
    } else {
      unsigned lead = static_cast<unsigned>(__builtin_ctz(brk));
      if (run < kBase64Run && run + lead >= kBase64Run) out.base64_runs.push_back(i + lead - 1);
      run = static_cast<unsigned>(__builtin_clz(brk)) - 16;  // bytes after the last break
    }
  }
#endif
  // Two bytes per step (the whole text without SSE2, else its last bytes).
  for (; i + 4 <= n; i += 2) {
    const uint32_t h = hash4(load4(p + i));
    if ((bits[h >> 6] >> (h & 63)) & 1) [[unlikely]]
      confirm(text, i, h, out);
    for (size_t k = i; k < i + 2; ++k) {
      unsigned char b = static_cast<unsigned char>(p[k]);
      if (b == '<')
        out.angles.push_back(k);
      else if (is_high_lead(b))
        out.high.push_back(k);
      run = b < '+' || b >= 0x80 ? 0 : run + 1;
      if (run == kBase64Run) out.base64_runs.push_back(k);
    }
  }
  for (; i < n; ++i) {  // the last 0-3 bytes: no anchor of 5+ bytes starts unseen here
    unsigned char b = static_cast<unsigned char>(p[i]);
    if (b == '<')
      out.angles.push_back(i);
    else if (is_high_lead(b))
      out.high.push_back(i);
    run = b < '+' || b >= 0x80 ? 0 : run + 1;
    if (run == kBase64Run) out.base64_runs.push_back(i);
  }
  std::sort(out.anchors.begin(), out.anchors.end());
  out.anchors.erase(std::unique(out.anchors.begin(), out.anchors.end()), out.anchors.end());
}

}  // namespace portcullis::guard::injection
