#include "guard/injection_prefilter.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace portcullis::guard::injection {
namespace {

constexpr int kBase64RunSteps = 16;  // 16 two-byte steps: runs of 32+ characters

// Folds ASCII letters to lower case; other bytes change too, but the same way
// for anchors and text, so folding can only add candidates, never lose one.
inline uint32_t hash4(uint32_t w) { return ((w | 0x20202020u) * 0x9E3779B1u) >> 16; }

inline uint32_t load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

struct Base64Class {
  unsigned char c[256] = {};
  Base64Class() {
    for (int b = 'A'; b <= 'Z'; ++b) c[b] = 1;
    for (int b = 'a'; b <= 'z'; ++b) c[b] = 1;
    for (int b = '0'; b <= '9'; ++b) c[b] = 1;
    c['+'] = c['/'] = c['-'] = c['_'] = 1;
  }
};
const Base64Class kBase64;

inline bool is_high_lead(unsigned char b) { return b == 0xE2 || b == 0xEF || b == 0xF3; }

}  // namespace

Prefilter::Prefilter(const std::vector<std::string>& anchors)
    : anchors_(anchors), bits_(1 << 10), begin_((1 << 16) + 1) {
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> buckets(1 << 16);
  for (uint32_t a = 0; a < anchors_.size(); ++a) {
    const std::string& s = anchors_[a];
    if (s.size() < 5) throw std::invalid_argument("injection anchor shorter than 5 bytes: " + s);
    for (uint32_t off = 0; off + 4 <= s.size(); ++off) {
      uint32_t h = hash4(load4(s.data() + off));
      bits_[h >> 6] |= uint64_t{1} << (h & 63);
      buckets[h].push_back({a, off});
    }
  }
  for (size_t h = 0; h < buckets.size(); ++h) {
    begin_[h] = static_cast<uint32_t>(entries_.size());
    entries_.insert(entries_.end(), buckets[h].begin(), buckets[h].end());
  }
  begin_[1 << 16] = static_cast<uint32_t>(entries_.size());
}

void Prefilter::confirm(std::string_view text, size_t i, uint32_t hash, Events& out) const {
  for (uint32_t k = begin_[hash]; k < begin_[hash + 1]; ++k) {
    auto [a, off] = entries_[k];
    if (off > i) continue;
    size_t start = i - off;
    const std::string& s = anchors_[a];
    if (start + s.size() > text.size()) continue;
    bool same = true;
    for (size_t j = 0; same && j < s.size(); ++j) {
      unsigned char c = static_cast<unsigned char>(text[start + j]);
      if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
      same = c == static_cast<unsigned char>(s[j]);
    }
    if (same) out.anchors.push_back({start, a});
  }
}

void Prefilter::scan(std::string_view text, Events& out) const {
  const char* p = text.data();
  const size_t n = text.size();
  const uint64_t* bits = bits_.data();
  int run = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 2) {
    const uint32_t w = load4(p + i);
    const uint32_t h = hash4(w);
    if ((bits[h >> 6] >> (h & 63)) & 1) [[unlikely]] confirm(text, i, h, out);
    const uint32_t lo = w & 0xFFFFu;
    const uint32_t x = lo ^ 0x3C3Cu;  // a zero byte where the text has '<'
    if (((lo & 0x8080u) | ((x - 0x0101u) & ~x & 0x8080u)) != 0) [[unlikely]] {
      for (size_t k = i; k < i + 2; ++k) {
        unsigned char b = static_cast<unsigned char>(p[k]);
        if (b == '<') out.angles.push_back(k);
        else if (is_high_lead(b)) out.high.push_back(k);
      }
    }
    run = (kBase64.c[static_cast<unsigned char>(p[i])] & kBase64.c[static_cast<unsigned char>(p[i + 1])])
              ? run + 1
              : 0;
    if (run == kBase64RunSteps) [[unlikely]] out.base64_runs.push_back(i);
  }
  for (; i < n; ++i) {  // the last 0-3 bytes: no anchor fits here that was not seen above
    unsigned char b = static_cast<unsigned char>(p[i]);
    if (b == '<') out.angles.push_back(i);
    else if (is_high_lead(b)) out.high.push_back(i);
  }
  std::sort(out.anchors.begin(), out.anchors.end());
  out.anchors.erase(std::unique(out.anchors.begin(), out.anchors.end()), out.anchors.end());
}

}  // namespace portcullis::guard::injection
