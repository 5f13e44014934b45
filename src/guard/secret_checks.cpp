#include "guard/secret_checks.h"

#include <array>
#include <algorithm>
#include <cmath>

namespace portcullis::guard {

namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = make_crc_table();
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

}  // namespace

uint32_t crc32(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string base62(uint32_t value, size_t width) {
  std::string out;
  do {
    out.insert(out.begin(), kBase62[value % 62]);
    value /= 62;
  } while (value);
  if (out.size() < width) out.insert(0, width - out.size(), '0');
  return out;
}

bool base62_crc_checksum_ok(std::string_view token, size_t prefix_len) {
  if (token.size() != prefix_len + 36) return false;
  return base62(crc32(token.substr(prefix_len, 30)), 6) == token.substr(prefix_len + 30);
}

namespace {

// c * log2(c) for the byte counts of values up to 255 bytes, computed once
// with the same expression the loop would use, so sums come out identical.
double count_log2_count(unsigned c) {
  static const auto table = [] {
    std::array<double, 256> t{};
    for (unsigned k = 1; k < t.size(); ++k) t[k] = k * std::log2(double(k));
    return t;
  }();
  return c < table.size() ? table[c] : c * std::log2(double(c));
}

// Markers of documentation values; letters match in either case.
constexpr std::string_view kPlaceholderMarkers[] = {
    "example", "xxxx",        "your_", "your-",      "changeme",   "redacted",   "placeholder",
    "dummy",   "0000000000", "abcdefghij", "1234567890", "${",        "{{",         "****",
    "...."};

bool has_placeholder_marker(std::string_view v) {
  static const auto first = [] {
    std::array<bool, 256> f{};
    for (auto m : kPlaceholderMarkers) f[(unsigned char)m[0]] = true;
    return f;
  }();
  for (size_t i = 0; i < v.size(); ++i) {
    char c = lower(v[i]);
    if (!first[(unsigned char)c]) continue;
    for (auto m : kPlaceholderMarkers) {
      if (m[0] != c || v.size() - i < m.size()) continue;
      size_t k = 1;
      while (k < m.size() && lower(v[i + k]) == m[k]) ++k;
      if (k == m.size()) return true;
    }
  }
  return false;
}

}  // namespace

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  // H = log2(n) - (1/n) * sum(c * log2 c), over the byte counts c.
  std::array<unsigned, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double sum = 0;
  for (unsigned char c : s)
    if (unsigned k = counts[c]) {
      sum += count_log2_count(k);
      counts[c] = 0;  // each distinct byte once
    }
  double n = double(s.size());
  return std::log2(n) - sum / n;
}

bool looks_like_placeholder(std::string_view v) {
  if (has_placeholder_marker(v)) return true;
  if (!v.empty() && v.front() == '<' && v.back() == '>') return true;
  // One character repeated over most of the value ("sk_live_aaaaaaaa…").
  std::array<unsigned, 256> counts{};
  unsigned top = 0;
  for (unsigned char c : v) top = std::max(top, ++counts[c]);
  return v.size() >= 8 && top * 2 > v.size();
}

}  // namespace portcullis::guard
