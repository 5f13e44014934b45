#include "policy/extensions.h"

#include <arpa/inet.h>

#include <cctype>

namespace portcullis::policy {

Result<Decimal> parse_decimal(std::string_view text) {
  std::string_view s = text;
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  auto dot = s.find('.');
  auto digits = [](std::string_view d) {
    if (d.empty()) return false;
    for (char c : d)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
  };
  if (dot == std::string_view::npos || !digits(s.substr(0, dot)) || !digits(s.substr(dot + 1)))
    return fail("`" + std::string(text) + "` is not a well-formed decimal value");
  std::string_view frac = s.substr(dot + 1);
  if (frac.size() > 4)
    return fail("too many digits after the decimal in `" + std::string(text) + "`");
  // Accumulate as a negative number so that the minimum value fits.
  int64_t acc = 0;
  auto push = [&acc](char c) {
    return !__builtin_mul_overflow(acc, 10, &acc) && !__builtin_sub_overflow(acc, c - '0', &acc);
  };
  bool ok = true;
  for (char c : s.substr(0, dot)) ok = ok && push(c);
  for (char c : frac) ok = ok && push(c);
  for (size_t i = frac.size(); i < 4; ++i) ok = ok && push('0');
  if (!ok || (!negative && acc == INT64_MIN)) return fail("overflow when converting to decimal");
  return Decimal{negative ? acc : -acc};
}

Result<IpAddr> parse_ip(std::string_view text) {
  std::string s(text);
  std::string prefix;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    prefix = s.substr(slash + 1);
    s.resize(slash);
  }
  IpAddr ip;
  if (s.find(':') != std::string::npos) {
    if (s.find('.') != std::string::npos)
      return fail("We do not accept IPv4 embedded in IPv6 (e.g., ::ffff:127.0.0.1). Found: `" +
                  std::string(text) + "`");
    if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) != 1)
      return fail("invalid IP address: " + std::string(text));
    ip.v6 = true;
    ip.prefix = 128;
  } else {
    if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) != 1)
      return fail("invalid IP address: " + std::string(text));
    ip.prefix = 32;
  }
  if (text.find('/') != std::string_view::npos) {
    size_t limit = ip.v6 ? 128 : 32;
    if (prefix.empty() || prefix.size() > (ip.v6 ? 3u : 2u))
      return fail("error parsing prefix of " + std::string(text));
    unsigned n = 0;
    for (char c : prefix) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return fail("error parsing prefix of " + std::string(text));
      n = n * 10 + unsigned(c - '0');
    }
    if (n > limit)
      return fail("error parsing prefix: " + prefix + " is larger than the limit " +
                  std::to_string(limit));
    ip.prefix = static_cast<uint8_t>(n);
  }
  return ip;
}

bool ip_in_range(const IpAddr& ip, const IpAddr& range) {
  if (ip.v6 != range.v6 || ip.prefix < range.prefix) return false;
  unsigned full = range.prefix / 8, rest = range.prefix % 8;
  for (unsigned i = 0; i < full; ++i)
    if (ip.bytes[i] != range.bytes[i]) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (ip.bytes[full] & mask) == (range.bytes[full] & mask);
}

bool ip_is_loopback(const IpAddr& ip) {
  IpAddr range;
  range.v6 = ip.v6;
  if (ip.v6) {
    range.bytes[15] = 1;
    range.prefix = 128;
  } else {
    range.bytes[0] = 127;
    range.prefix = 8;
  }
  return ip_in_range(ip, range);
}

bool ip_is_multicast(const IpAddr& ip) {
  IpAddr range;
  range.v6 = ip.v6;
  range.bytes[0] = ip.v6 ? 0xFF : 224;
  range.prefix = ip.v6 ? 8 : 4;
  return ip_in_range(ip, range);
}

}  // namespace portcullis::policy
