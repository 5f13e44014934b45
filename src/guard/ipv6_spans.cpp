#include "guard/ipv6_spans.h"

#include <cstring>

#include "guard/byte_blocks.h"
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

// The hex-and-colon run around the colon at `c`: appended when it is an
// address; returns where the run ends.
size_t run_at(std::string_view t, size_t c, std::vector<TextSpan>& out) {
  size_t s = c, e = c + 1;
  while (s > 0 && (hex(t[s - 1]) || t[s - 1] == ':')) --s;
  while (e < t.size() && (hex(t[e]) || t[e] == ':')) ++e;
  if (e - s < 3 || e - s > kMaxAddress) return e;
  if ((s > 0 && alnum(t[s - 1])) || (e < t.size() && alnum(t[e]))) return e;
  std::string_view run = t.substr(s, e - s);
  if (anchored(run) && ipv6_ok(run)) out.push_back({s, e});
  return e;
}

}  // namespace

void Ipv6Scanner::walk(size_t b, uint64_t worth) {
  if (settled_ > b) worth &= settled_ - b >= kBlock ? 0 : ~uint64_t(0) << (settled_ - b);
  while (worth) {
    settled_ = run_at(t_, b + unsigned(__builtin_ctzll(worth)), out_);
    worth &= settled_ - b >= kBlock ? 0 : ~uint64_t(0) << (settled_ - b);
  }
}

void ipv6_spans(std::string_view t, std::vector<TextSpan>& out) {
  Ipv6Scanner scanner(t, out);
  each_block(t, [&](size_t b, const char* block) {
    if (uint64_t worth = scanner.mark(byte_mask(block, ':'))) scanner.walk(b, worth);
  });
}

}  // namespace portcullis::guard
