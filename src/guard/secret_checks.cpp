#include "guard/secret_checks.h"

#include <algorithm>
#include <array>
#include <bitset>
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
    "example",    "xxxx",        "your_", "your-",      "changeme",
    "redacted",   "placeholder", "dummy", "0000000000", "abcdefghij",
    "1234567890", "${",          "{{",    "****",       "...."};
static_assert(std::ranges::all_of(kPlaceholderMarkers, [](auto m) { return m.size() >= 2; }),
              "markers are found by their first two bytes");

unsigned pair_key(char a, char b) { return unsigned((unsigned char)a) << 8 | (unsigned char)b; }

// Each position is first tested on its two bytes (lower-cased) against the
// markers' first two: random values rarely hold one of those pairs, so the
// loop seldom leaves its fast path.
bool has_placeholder_marker(std::string_view v) {
  static const std::bitset<1 << 16> first_pairs = [] {
    std::bitset<1 << 16> b;
    for (auto m : kPlaceholderMarkers) b.set(pair_key(m[0], m[1]));
    return b;
  }();
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (!first_pairs.test(pair_key(lower(v[i]), lower(v[i + 1])))) continue;
    for (auto m : kPlaceholderMarkers) {
      if (v.size() - i < m.size()) continue;
      size_t k = 0;
      while (k < m.size() && lower(v[i + k]) == m[k]) ++k;
      if (k == m.size()) return true;
    }
  }
  return false;
}

// Whether one byte fills more than half of v. Boyer-Moore majority vote
// finds the only byte that can, without a table of counts.
bool one_byte_fills_half(std::string_view v) {
  char candidate = 0;
  size_t votes = 0;
  for (char c : v) {
    if (votes == 0) candidate = c;
    votes += c == candidate ? 1 : size_t(-1);
  }
  return size_t(std::count(v.begin(), v.end(), candidate)) * 2 > v.size();
}

// Shannon entropy with byte counts of type Count (a small one for short
// values: less to clear).
template <typename Count>
double entropy_with(std::string_view s) {
  // H = log2(n) - (1/n) * sum(c * log2 c), over the byte counts c.
  std::array<Count, 256> counts{};
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

}  // namespace

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  return s.size() < 256 ? entropy_with<uint8_t>(s) : entropy_with<unsigned>(s);
}

bool looks_like_placeholder(std::string_view v) {
  if (has_placeholder_marker(v)) return true;
  if (!v.empty() && v.front() == '<' && v.back() == '>') return true;
  // One character repeated over most of the value ("sk_live_aaaaaaaa…").
  return v.size() >= 8 && one_byte_fills_half(v);
}

}  // namespace portcullis::guard
