#include "guard/anchored_rules.h"

#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <cstdint>

namespace portcullis::guard {

namespace {

// The (rule, start) pairs of anchored hits already matched: an anchor with
// several ends for one start must not match its rule twice there. Open
// addressing in a power-of-two table sized for every hit up front, so it
// never grows and a scan allocates it once.
class SeenStarts {
 public:
  explicit SeenStarts(size_t hits) : slots_(std::bit_ceil(2 * hits + 2), kEmpty) {}

  // True the first time (rule, start) is offered.
  bool insert(size_t rule, size_t start) {
    uint64_t key = (uint64_t(rule) << 48) | start;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == key) return false;
      if (slots_[i] == kEmpty) {
        slots_[i] = key;
        return true;
      }
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // no rule 0xffff at 2^48 - 1
  // MurmurHash3's 64-bit finaliser.
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  std::vector<uint64_t> slots_;
};

}  // namespace

AnchoredRules::~AnchoredRules() = default;

Result<std::shared_ptr<const AnchoredRules>> AnchoredRules::build(std::vector<AnchoredRule> rules) {
  std::shared_ptr<AnchoredRules> out(new AnchoredRules());
  std::vector<Anchor> anchors;
  RE2::Options opt;
  opt.set_log_errors(false);
  opt.set_max_mem(8 << 20);
  for (const auto& r : rules) {
    anchors.push_back(r.anchor);
    anchors.back().want_start |= r.from_anchor_start;
    auto re = std::make_unique<RE2>(r.confirm, opt);
    if (!re->ok()) return fail("rule " + r.id + ": RE2: " + re->error());
    out->confirm_.push_back(std::move(re));
    std::array<bool, 256> set{};
    for (unsigned char c : r.tail_chars) set[c] = true;
    out->tail_set_.push_back(set);
    if (!r.tail_chars.empty() && !r.from_anchor_start)
      return fail("rule " + r.id + ": a tail needs from_anchor_start");
    if (r.matcher && !r.from_anchor_start)
      return fail("rule " + r.id + ": a matcher needs from_anchor_start");
  }
  auto mp = MultiPattern::compile(anchors);
  if (!mp) return fail(mp.error());
  out->anchors_ = std::move(mp.value());
  out->rules_ = std::move(rules);
  return std::shared_ptr<const AnchoredRules>(std::move(out));
}

Result<std::vector<Candidate>> AnchoredRules::candidates(std::string_view text) const {
  auto hits = anchors_->scan(text);
  if (!hits) return fail(hits.error());
  std::vector<Candidate> out;
  if (hits->empty()) return out;
  // Windows per rule, merged where they overlap, so RE2 reads each byte of
  // a dense region once per rule rather than once per anchor.
  struct Window {
    size_t rule, from, to;
  };
  std::vector<Window> windows;
  windows.reserve(hits->size());
  re2::StringPiece whole(text.data(), text.size());
  re2::StringPiece groups[2];
  size_t anchored = 0;
  for (const auto& h : *hits) anchored += rules_[h.id].from_anchor_start;
  SeenStarts tried(anchored);
  out.reserve(anchored);
  for (const auto& h : *hits) {
    const auto& r = rules_[h.id];
    if (r.from_anchor_start) {
      if (!tried.insert(h.id, h.start)) continue;
      if (!r.tail_chars.empty()) {
        const auto& set = tail_set_[h.id];
        size_t e = h.end;
        while (e < text.size() && e - h.end < r.tail_max && set[(unsigned char)text[e]]) ++e;
        if (e - h.end >= r.tail_min) out.push_back({h.id, h.start, e});
        continue;
      }
      size_t limit = std::min(text.size(), h.end + r.fwd);
      if (r.matcher) {
        MatchAtHit m = r.matcher(text.substr(0, limit), h.start, h.end);
        if (m.kind == MatchAtHit::kMatch && m.end > m.start) out.push_back({h.id, m.start, m.end});
        if (m.kind != MatchAtHit::kUndecided) continue;
      }
      const RE2& re = *confirm_[h.id];
      int n = re.NumberOfCapturingGroups() >= 1 ? 2 : 1;
      if (re.Match(whole, h.start, limit, RE2::ANCHOR_START, groups, n) &&
          groups[n - 1].data() != nullptr && !groups[n - 1].empty()) {
        size_t s = size_t(groups[n - 1].data() - text.data());
        out.push_back({h.id, s, s + groups[n - 1].size()});
      }
      continue;
    }
    size_t from = h.end > r.back ? h.end - r.back : 0;
    if (r.anchor.want_start) from = std::min(from, h.start);
    windows.push_back({h.id, from, std::min(text.size(), h.end + r.fwd)});
  }
  std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.from < b.from;
  });
  for (size_t i = 0; i < windows.size();) {
    Window w = windows[i++];
    while (i < windows.size() && windows[i].rule == w.rule && windows[i].from <= w.to)
      w.to = std::max(w.to, windows[i++].to);
    const RE2& re = *confirm_[w.rule];
    int n = re.NumberOfCapturingGroups() >= 1 ? 2 : 1;
    size_t pos = w.from;
    size_t last_end = 0;
    while (pos < w.to && re.Match(whole, pos, w.to, RE2::UNANCHORED, groups, n)) {
      const auto& g = groups[n - 1];
      size_t s = size_t(g.data() - text.data()), e = s + g.size();
      if (g.data() != nullptr && e > s &&
          !(out.size() && out.back().rule == w.rule && out.back().start == s))
        if (s >= last_end || out.empty() || out.back().rule != w.rule)
          out.push_back({w.rule, s, e}), last_end = e;
      size_t whole_end = size_t(groups[0].data() - text.data()) + groups[0].size();
      pos = std::max(whole_end, pos + 1);
    }
  }
  return out;
}

}  // namespace portcullis::guard
