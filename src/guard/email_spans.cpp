#include "guard/email_spans.h"

#include <cstring>

namespace portcullis::guard {

namespace {

constexpr size_t kMaxLocal = 64, kDomainWindow = 256, kMaxLabel = 63, kMaxTld = 24;

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool label_char(char c) { return alnum(c) || c == '-'; }
bool local_char(char c) { return alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }

// The end of the domain after an '@' (`from` is the byte after it), or 0.
// Leftmost-first with greedy repeats means: as many whole labels, each
// followed by '.', as possible, then a TLD of 2-24 letters at the start of
// the next segment; where that segment has no TLD, one label fewer.
size_t domain_end(std::string_view t, size_t from) {
  const size_t limit = std::min(t.size(), from + kDomainWindow);
  // Starts of the segments after each whole label (at most one label per two bytes).
  size_t next[kDomainWindow / 2 + 2];
  size_t labels = 0, p = from;
  for (;;) {
    size_t e = p;
    while (e < limit && label_char(t[e])) ++e;
    bool label = e > p && e - p <= kMaxLabel && alnum(t[p]) && alnum(t[e - 1]);
    if (!label || e >= limit || t[e] != '.') break;
    p = e + 1;
    next[labels++] = p;
  }
  for (size_t k = labels; k-- > 0;) {
    size_t s = next[k], e = s;
    while (e < limit && e - s < kMaxTld && letter(t[e])) ++e;
    if (e - s >= 2) return e;
  }
  return 0;
}

}  // namespace

// The '@' at `a`: appends the span around it, if any, and moves the
// cursors (`lower`: the span's local part starts at or after it; `next`: the
// next '@' looked at is at or after it).
void EmailScanner::at_sign(size_t a) {
  next_ = a + 1;
  size_t s = a;
  while (s > lower_ && a - s < kMaxLocal && local_char(t_[s - 1])) --s;
  if (s == a) return;
  size_t e = domain_end(t_, a + 1);
  if (e == 0) return;
  out_.push_back({s, e});
  lower_ = e;
  next_ = e;
}

void EmailScanner::walk(size_t b, uint64_t ats) {
  if (next_ > b) ats &= next_ - b >= 64 ? 0 : ~uint64_t(0) << (next_ - b);
  while (ats) {
    at_sign(b + unsigned(__builtin_ctzll(ats)));
    ats &= next_ - b >= 64 ? 0 : ~uint64_t(0) << (next_ - b);
  }
}

void email_spans(std::string_view t, std::vector<TextSpan>& out) {
  EmailScanner scanner(t, out);
  const char* base = t.data();
  for (size_t at = 0; at < t.size();) {
    const void* hit = std::memchr(base + at, '@', t.size() - at);
    if (!hit) break;
    scanner.at_sign(size_t(static_cast<const char*>(hit) - base));
    at = scanner.next();
  }
}

}  // namespace portcullis::guard
