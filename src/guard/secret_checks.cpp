#include "guard/secret_checks.h"

#include <array>
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

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  // H = log2(n) - (1/n) * sum(c * log2 c), over the byte counts c.
  std::array<unsigned, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double sum = 0;
  for (unsigned char c : s)
    if (unsigned k = counts[c]) {
      sum += k * std::log2(double(k));
      counts[c] = 0;  // each distinct byte once
    }
  double n = double(s.size());
  return std::log2(n) - sum / n;
}

bool looks_like_placeholder(std::string_view v) {
  std::string low(v);
  for (auto& c : low) c = lower(c);
  for (std::string_view w : {"example", "xxxx", "your_", "your-", "changeme", "redacted",
                             "placeholder", "dummy", "0000000000", "abcdefghij", "1234567890"})
    if (low.find(w) != std::string::npos) return true;
  if (v.find("${") != std::string_view::npos || v.find("{{") != std::string_view::npos) return true;
  if (!v.empty() && v.front() == '<' && v.back() == '>') return true;
  if (v.find("****") != std::string_view::npos || v.find("....") != std::string_view::npos)
    return true;
  // One character repeated over most of the value ("sk_live_aaaaaaaa…").
  std::array<unsigned, 256> counts{};
  unsigned top = 0;
  for (unsigned char c : v) top = std::max(top, ++counts[c]);
  return v.size() >= 8 && top * 2 > v.size();
}

}  // namespace portcullis::guard
