#include "guard/pii_checks.h"

#include <arpa/inet.h>

#include <map>

namespace portcullis::guard {

bool luhn_ok(std::string_view d) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = d.size(); i-- > 0;) {
    int v = d[i] - '0';
    if (v < 0 || v > 9) return false;
    if (dbl && (v *= 2) > 9) v -= 9;
    sum += v;
    dbl = !dbl;
  }
  return !d.empty() && sum % 10 == 0;
}

namespace {
// The number the first n digits spell (-1: fewer than n digits).
int prefix(std::string_view d, size_t n) {
  if (n > d.size()) return -1;
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (d[i] - '0');
  return v;
}
bool in(int v, int lo, int hi) { return v >= lo && v <= hi; }
}  // namespace

bool payment_card_ok(std::string_view d) {
  size_t n = d.size();
  if (n < 13 || n > 19 || !luhn_ok(d)) return false;
  int p1 = prefix(d, 1), p2 = prefix(d, 2), p3 = prefix(d, 3), p4 = prefix(d, 4), p6 = prefix(d, 6);
  if (p1 == 4) return n == 13 || n == 16 || n == 19;                         // Visa
  if (in(p2, 51, 55) || in(p4, 2221, 2720)) return n == 16;                  // Mastercard
  if (p2 == 34 || p2 == 37) return n == 15;                                  // Amex
  if (p4 == 6011 || in(p3, 644, 649) || p2 == 65 || in(p6, 622126, 622925))  // Discover
    return n >= 16;
  if (in(p3, 300, 305) || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14;  // Diners
  if (in(p4, 3528, 3589)) return n >= 16;                                    // JCB
  if (p2 == 62) return n >= 16;                                              // UnionPay
  if (p2 == 50 || in(p2, 56, 69)) return n >= 12;                            // Maestro
  return false;
}

bool us_ssn_ok(std::string_view area, std::string_view group, std::string_view serial) {
  if (area == "000" || area == "666" || area[0] == '9') return false;
  return group != "00" && serial != "0000";
}

size_t iban_length(std::string_view c) {
  // ISO 13616 registry lengths (SWIFT IBAN registry).
  static const std::map<std::string_view, size_t> kLen = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
      {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24},
      {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18},
      {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
      {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
      {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22},
      {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
      {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
      {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}};
  auto it = kLen.find(c);
  return it == kLen.end() ? 0 : it->second;
}

bool iban_ok(std::string_view s) {
  if (s.size() < 15 || iban_length(s.substr(0, 2)) != s.size()) return false;
  if (!(s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9')) return false;
  // Move the first four characters to the end, letters become 10..35, mod 97.
  int rem = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[(k + 4) % s.size()];
    if (c >= '0' && c <= '9')
      rem = (rem * 10 + (c - '0')) % 97;
    else if (c >= 'A' && c <= 'Z')
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    else
      return false;
  }
  return rem == 1;
}

bool ipv4_ok(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('.', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view p = s.substr(i, j - i);
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return false;
    int v = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

bool ipv6_ok(std::string_view s) {
  if (s.size() < 3 || s.size() > 45 ||
      s.find_first_of("0123456789abcdefABCDEF") == std::string_view::npos)
    return false;
  unsigned char buf[16];
  return inet_pton(AF_INET6, std::string(s).c_str(), buf) == 1;
}

}  // namespace portcullis::guard
