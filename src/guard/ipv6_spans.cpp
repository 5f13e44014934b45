#include "guard/ipv6_spans.h"

#include <cstring>

#include "guard/pii_checks.h"

namespace portcullis::guard {

namespace {

constexpr size_t kMaxAddress = 45;  // INET6_ADDRSTRLEN - 1

bool hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// "::", or four groups of 1-4 hex digits each followed by ':' (the first
// group may be the tail of a longer hex run).
bool anchored(std::string_view run) {
  if (run.find("::") != std::string_view::npos) return true;
  size_t groups = 0, len = 0;
  for (char c : run) {
    if (c != ':') {
      ++len;
      continue;
    }
    bool short_group = len >= 1 && (len <= 4 || groups == 0);
    groups = short_group ? groups + 1 : (len >= 1 ? 1 : 0);
    if (groups >= 4) return true;
    len = 0;
  }
  return false;
}

}  // namespace

void ipv6_spans(std::string_view t, std::vector<TextSpan>& out) {
  const char* base = t.data();
  for (size_t at = 0; at < t.size();) {
    const void* hit = std::memchr(base + at, ':', t.size() - at);
    if (!hit) break;
    size_t c = size_t(static_cast<const char*>(hit) - base);
    size_t s = c, e = c + 1;
    while (s > 0 && (hex(t[s - 1]) || t[s - 1] == ':')) --s;
    while (e < t.size() && (hex(t[e]) || t[e] == ':')) ++e;
    at = e;
    if (e - s < 3 || e - s > kMaxAddress) continue;
    if ((s > 0 && alnum(t[s - 1])) || (e < t.size() && alnum(t[e]))) continue;
    std::string_view run = t.substr(s, e - s);
    if (anchored(run) && ipv6_ok(run)) out.push_back({s, e});
  }
}

}  // namespace portcullis::guard
